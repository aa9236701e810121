// What a FETCH's items ask of the handler (commands/fetch.ts), worked out once per items object:
// the items of a FETCH text parsed before are the same frozen object each time
// (wire/fetch-items.ts keeps them), and each of these answers is a pure function of them. The
// login mix's FETCH asked the same ~10 questions of the same items at every command (~8% of
// FETCH's own work in the twenty-seventh session's profile).
import { type HeaderLine, headerLineRenderer } from './header-line.js';
import {
  allLight,
  columnItemsOnly,
  type FetchItem,
  type FetchRenderOptions,
  fetchSetsSeen,
  headerItemsOnly,
  needsBytes,
  needsDetail,
  needsExtras,
  needsHeaderOnly,
} from './render.js';

export interface FetchPlan {
  /** The MODSEQ item is asked: RFC 7162 §3.1 enables CONDSTORE. */
  readonly asksModseq: boolean;
  /** A body section without .PEEK (or RFC822, RFC822.TEXT) sets \Seen (RFC 9051 §6.4.5). */
  readonly setsSeen: boolean;
  readonly asksFlags: boolean;
  readonly asksUid: boolean;
  /** UID, FLAGS and MODSEQ alone: what columnRenderer answers. */
  readonly columnItems: boolean;
  /** Row items only (lightFetch). */
  readonly allLight: boolean;
  readonly withExtras: boolean;
  readonly withDetail: boolean;
  readonly withBytes: boolean;
  /** Bytes, but none past the header block. */
  readonly headersOnly: boolean;
  /** Row items and header sections alone, none setting \Seen (fetch/header-line.ts). */
  readonly headerFast: boolean;
  /** headerFast's line writer for the two options it reads (see headerLine). */
  readonly lines: Array<HeaderLine | null | undefined>;
}

const plans = new WeakMap<readonly FetchItem[], FetchPlan>();

const simple = (items: readonly FetchItem[], name: string) =>
  items.some((it) => it.kind === 'simple' && it.name === name);

/** The plan of `items`, made at its first FETCH and held only as long as the items are. */
export function fetchPlan(items: readonly FetchItem[]): FetchPlan {
  let plan = plans.get(items);
  if (plan !== undefined) return plan;
  const withExtras = needsExtras(items);
  const withDetail = needsDetail(items);
  const withBytes = needsBytes(items);
  const headersOnly = withBytes && needsHeaderOnly(items);
  plan = {
    asksModseq: simple(items, 'MODSEQ'),
    setsSeen: fetchSetsSeen(items),
    asksFlags: simple(items, 'FLAGS'),
    asksUid: simple(items, 'UID'),
    columnItems: columnItemsOnly(items),
    allLight: allLight(items),
    withExtras,
    withDetail,
    withBytes,
    headersOnly,
    headerFast: headersOnly && !withDetail && !withExtras && headerItemsOnly(items),
    lines: [undefined, undefined, undefined, undefined],
  };
  plans.set(items, plan);
  return plan;
}

/**
 * The plan's header line writer for `opts` (uidAlways and condstore are what it reads), made
 * once; null when the items are not headerFast's or the writer declines them. The writer keeps
 * nothing between calls.
 */
export function headerLine(
  items: readonly FetchItem[],
  plan: FetchPlan,
  opts: FetchRenderOptions,
): HeaderLine | null {
  if (!plan.headerFast) return null;
  const at = (opts.uidAlways ? 1 : 0) | (opts.condstore ? 2 : 0);
  let line = plan.lines[at];
  if (line === undefined) {
    line = headerLineRenderer(items, opts);
    plan.lines[at] = line;
  }
  return line;
}
