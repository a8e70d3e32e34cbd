/*
 * Platform entropy for Zephyr (sealdropEntropyPlatformFill, native/sealdrop-native.h): the
 * chosen entropy device (zephyr,entropy: the STM32 RNG peripheral) read directly with
 * entropy_get_entropy(), so native/entropy.c's health tests see the raw TRNG output rather than
 * a DRBG's:
 *   https://docs.zephyrproject.org/latest/hardware/peripherals/entropy.html
 * The board overlays enable it (&rng; the STM32 SoC files choose it but leave it disabled).
 * Without an enabled entropy device the build falls back to sys_csrand_get(),
 *   https://docs.zephyrproject.org/latest/services/crypto/random/index.html
 * which Zephyr enables only over a real entropy source. Kconfig: CONFIG_ENTROPY_GENERATOR
 * (manifest.json).
 * Not compiled in this repository.
 */
#include "sealdrop-native.h"

#include <zephyr/devicetree.h>
#include <zephyr/device.h>
#include <zephyr/drivers/entropy.h>
#include <zephyr/random/random.h>

int sealdropEntropyPlatformFill(uint8_t* data, size_t size)
{
#if DT_NODE_HAS_STATUS_OKAY(DT_CHOSEN(zephyr_entropy))
	const struct device* dev = DEVICE_DT_GET(DT_CHOSEN(zephyr_entropy));
	if (!device_is_ready(dev))
		return -1;
	while (size) {
		uint16_t n = size > 0xFFFF ? 0xFFFF : (uint16_t)size;
		if (entropy_get_entropy(dev, data, n))
			return -1;
		data += n;
		size -= n;
	}
	return 0;
#else
	return sys_csrand_get(data, size) ? -1 : 0;
#endif
}
