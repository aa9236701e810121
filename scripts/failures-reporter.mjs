// A second reporter for node's test runner: it stays silent while the tests run and, at the
// end, lists every failed test with its file and error, so the last lines of a long CI log
// say what failed without searching the TAP stream above them.
import { inspect } from 'node:util';

function describe(error) {
  if (!error) return '';
  // The runner wraps a test's own error: the interesting one is its cause.
  const inner = error.cause ?? error;
  const text =
    inner instanceof Error ? (inner.stack ?? inner.message) : inspect(inner, { depth: 4 });
  return text
    .split('\n')
    .filter((line) => !line.includes('(node:'))
    .slice(0, 30)
    .map((line) => `    ${line}`)
    .join('\n');
}

export default async function* failures(source) {
  const failed = [];
  for await (const event of source) {
    if (event.type !== 'test:fail') continue;
    const { name, file, details } = event.data;
    // A suite fails when a test in it fails: list the test, not each enclosing suite again.
    if (details?.error?.failureType === 'subtestsFailed') continue;
    failed.push(`- ${file ?? '?'}: ${name}\n${describe(details?.error)}`);
  }
  if (failed.length === 0) return;
  yield `\n# ${failed.length} failed test(s):\n${failed.join('\n')}\n`;
}
