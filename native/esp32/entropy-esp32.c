/*
 * Platform entropy for ESP32 (sealdropEntropyPlatformFill, native/sealdrop-native.h): the
 * hardware RNG through esp_fill_random(). ESP-IDF documents that its output is truly random only
 * while a noise source is on: Wi-Fi/Bluetooth RF, or the SAR ADC source that
 * bootloader_random_enable() turns on (and must be turned off with bootloader_random_disable()
 * before Wi-Fi, I2S or the ADC are used):
 *   https://docs.espressif.com/projects/esp-idf/en/latest/esp32/api-reference/system/random.html
 * The device key is made at first boot, before any radio is up, so every request turns that
 * source on around its own draw. native/entropy.c runs the SP 800-90B health tests on the bytes.
 * Not compiled in this repository (no ESP-IDF here).
 */
#include "sealdrop-native.h"

#include "esp_random.h"
#include "bootloader_random.h"

int sealdropEntropyPlatformFill(uint8_t* data, size_t size)
{
	bootloader_random_enable();
	esp_fill_random(data, size);
	bootloader_random_disable();
	return 0;
}
