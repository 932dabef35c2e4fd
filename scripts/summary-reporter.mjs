// A node:test reporter beside the usual one (scripts/test.mjs adds it): one JSON line per test file
// with its duration, and one per skipped test with its reason, for the summary printed at the end.
// Node 20 reports each file as a top-level test named by its path (its duration includes loading the
// file); Node 22 and later do not, so there a file's duration is the sum of its top-level tests.
export default async function* summaryReporter(source) {
  const sums = new Map();
  const reported = new Set();
  for await (const event of source) {
    const { type, data } = event;
    if (type === 'test:complete' && data.nesting === 0 && data.file) {
      if (data.name === data.file) {
        reported.add(data.file);
        yield line({ kind: 'file', file: data.file, ms: Math.round(data.details.duration_ms), failed: !data.details.passed });
      } else {
        const sum = sums.get(data.file) ?? { ms: 0, failed: false };
        sum.ms += data.details.duration_ms;
        sum.failed ||= !data.details.passed;
        sums.set(data.file, sum);
      }
    } else if (type === 'test:pass' && data.skip !== undefined && data.skip !== false) {
      yield line({ kind: 'skip', file: data.file, name: data.name, reason: data.skip === true ? '(no reason given)' : data.skip });
    }
  }
  for (const [file, sum] of sums) if (!reported.has(file)) yield line({ kind: 'file', file, ms: Math.round(sum.ms), failed: sum.failed });
}

const line = (row) => `${JSON.stringify(row)}\n`;
