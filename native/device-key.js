/* The device's own key pair, persistent and never exportable (native/device-key.c). */
import AesCtr from "sealdrop/native/aes-ctr";

class DeviceKey extends Native("xs_devicekey_destructor") {
	constructor(options) { super(); native("xs_devicekey").call(this, options); }
	static exists(options) { return native("xs_devicekey_exists").call(undefined, options); }
	static generate(kind, options) {
		native("xs_devicekey_generate").call(undefined, kind, options);
		return new DeviceKey(options);
	}
	static import(kind, privateKey, options) {
		native("xs_devicekey_import").call(undefined, kind, privateKey, options);
		return new DeviceKey(options);
	}
	get kind() { return native("xs_devicekey_get_kind").call(this); }
	publicKey() { return native("xs_devicekey_publicKey").call(this); }
	isExportable() { return native("xs_devicekey_isExportable").call(this); }
	unwrap(encTlv, kind, keyBits) {
		const cipher = new AesCtr();
		try {
			native("xs_devicekey_unwrap").call(this, encTlv, kind, keyBits, cipher);
		} catch (e) {
			cipher.close();
			throw e;
		}
		return cipher;
	}
	prove(peerPublicKey, message) { return native("xs_devicekey_prove").call(this, peerPublicKey, message); }
	destroy() { return native("xs_devicekey_destroy").call(this); }
	close() { return native("xs_devicekey_close").call(this); }
}
Object.freeze(DeviceKey.prototype);
export default DeviceKey;
