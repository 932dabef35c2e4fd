// node:test reporter used inside the UML guest: one JSON line per finished test, so the host can
// report each guest test by name without parsing TAP. Also passes through the guest's measurements
// (diagnostics starting with "metric ") so the host can print them.
export default async function* jsonReporter(source) {
  for await (const event of source) {
    if (event.type === 'test:pass' || event.type === 'test:fail') {
      const { name, nesting, file, details, skip, todo } = event.data;
      const error = details?.error;
      yield `${JSON.stringify({
        type: event.type === 'test:pass' ? 'pass' : 'fail',
        name,
        nesting,
        file,
        skip: skip !== undefined && skip !== false ? String(skip) : undefined,
        todo: todo !== undefined && todo !== false ? String(todo) : undefined,
        durationMs: details?.duration_ms,
        error: error ? String(error.cause?.stack ?? error.cause ?? error.message ?? error) : undefined,
      })}\n`;
    } else if (event.type === 'test:diagnostic' && event.data.message.startsWith('metric ')) {
      yield `${JSON.stringify({ type: 'metric', file: event.data.file, message: event.data.message.slice(7) })}\n`;
    }
  }
}
