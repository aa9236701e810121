// Long fuzz runs: the targets of test/fuzz with many more inputs than CI gives them, for a
// session that has time. Same checks (no escaped throw, every step under 50 ms at best of 3,
// invariants), fresh random seeds unless --seed is given.
// Usage (from the repository root):
//   npm run bench:fuzz -- [--seconds 600] [--scale 20] [--only imap,mime] [--seed N --path P]
//     [--list] [--verbose]
import { parseArgs } from 'node:util';
import { type FuzzOptions, fuzz } from '../../test/fuzz/lib/harness.js';
import { ALL_TARGETS } from '../../test/fuzz/targets/index.js';

const { values: args } = parseArgs({
  options: {
    // A time budget for the whole run, shared evenly by the selected targets.
    seconds: { type: 'string' },
    // Otherwise each target runs this many times its CI number of inputs.
    scale: { type: 'string', default: '20' },
    only: { type: 'string' },
    seed: { type: 'string' },
    path: { type: 'string' },
    list: { type: 'boolean', default: false },
    // Print the slowest input of each target.
    verbose: { type: 'boolean', default: false },
  },
});

const filters = args.only?.split(',').map((f) => f.trim().toLowerCase()) ?? [];
const targets = ALL_TARGETS.filter(
  (t) => filters.length === 0 || filters.some((f) => t.name.toLowerCase().includes(f)),
);
if (args.list || targets.length === 0) {
  for (const t of ALL_TARGETS) console.log(`${t.name}  (${t.runs} inputs in CI)`);
  process.exit(targets.length === 0 ? 1 : 0);
}

const opts: FuzzOptions = {
  scale: Number(args.scale),
  seconds: args.seconds ? Number(args.seconds) / targets.length : undefined,
  seed: args.seed ? Number(args.seed) : undefined,
  path: args.path,
};
console.log(
  opts.seconds !== undefined
    ? `${targets.length} targets, ${opts.seconds.toFixed(0)} s each`
    : `${targets.length} targets, ${opts.scale} x their CI inputs`,
);

let failed = 0;
for (const t of targets) {
  const started = performance.now();
  try {
    const r = await fuzz(t, opts);
    const secs = ((performance.now() - started) / 1000).toFixed(1);
    const slow = r.slowest;
    const slowest = slow ? `${slow.ms.toFixed(1)} ms${slow.label ? ` (${slow.label})` : ''}` : '-';
    console.log(
      `ok    ${t.name}: ${r.runs} inputs in ${secs} s, seed ${r.seed}, slowest step ${slowest}`,
    );
    if (args.verbose && slow) console.log(`      slowest input: ${slow.input.slice(0, 400)}`);
  } catch (err) {
    failed++;
    console.log(`FAIL  ${t.name}${t.todo ? ` (known: ${t.todo})` : ''}`);
    console.log(String(err instanceof Error ? err.message : err).replace(/^/gm, '      '));
  }
}
console.log(failed === 0 ? 'all targets passed' : `${failed} of ${targets.length} targets failed`);
process.exit(failed === 0 ? 0 : 1);
