// A node:test reporter for scripts/test.mjs: each test file's time, as the sum of its top-level
// tests' durations (hooks and process start-up aside), written as one JSON object { file: ms }.
export default async function* fileTimes(source) {
	const files = {};
	for await (const event of source) {
		if ((event.type === "test:pass" || event.type === "test:fail") && event.data.nesting === 0 && event.data.file)
			files[event.data.file] = (files[event.data.file] ?? 0) + event.data.details.duration_ms;
	}
	yield `${JSON.stringify(files)}\n`;
}
