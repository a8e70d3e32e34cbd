// For scripts/check-moddable.mjs: a log machine for the Moddable SDK's xsbug-log (its XSBUG_LOGMACHINE
// hook, tools/xsbug-log/xsbug-log.js) that prints, beside the app's trace, each sample of the XS
// machine's instruments (heap chunks and slots in use, stack peak, …) as one JSON line:
//   #instruments {"Chunk used":"…", "Slot used":"…", …}
// A debug build (mcconfig -d) sends them once a second.
const { LogMachine: SdkLogMachine } = require(`${process.env.MODDABLE}/tools/xsbug-log/xsbug-debugmachine.js`);

class LogMachine extends SdkLogMachine {
	onInstrumentValues(values) {
		super.onInstrumentValues(values);
		const readings = Object.fromEntries(this.instruments.map((i) => [i.name.trim(), `${i.value}${i.unit === " / " ? "" : i.unit}`]));
		console.log(`#instruments ${JSON.stringify(readings)}`);
	}
}

exports.LogMachine = LogMachine;
