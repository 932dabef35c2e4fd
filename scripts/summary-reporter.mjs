// A node:test reporter beside the usual one (scripts/test.mjs adds it): one JSON line per test file
// with its duration, and one per skipped test with its reason, for the summary printed at the end.
export default async function* summaryReporter(source) {
  for await (const event of source) {
    const { type, data } = event;
    if (type === 'test:complete' && data.nesting === 0 && data.file && data.name === data.file) {
      // A test file as a whole (Node 20 reports each file as a top-level test named by its path).
      yield `${JSON.stringify({ kind: 'file', file: data.file, ms: Math.round(data.details.duration_ms), failed: !data.details.passed })}\n`;
    } else if (type === 'test:pass' && data.skip !== undefined && data.skip !== false) {
      yield `${JSON.stringify({ kind: 'skip', file: data.file, name: data.name, reason: data.skip === true ? '(no reason given)' : data.skip })}\n`;
    }
  }
}
