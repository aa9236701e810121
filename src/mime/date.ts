// RFC 5322 §3.3 date-time parsing, including obsolete forms (§4.3): two-digit years,
// alphabetic zones, missing seconds, comments. Returns epoch milliseconds or null.
import { stripComments } from './comments.js';

const MONTHS: Record<string, number> = {
  jan: 0,
  feb: 1,
  mar: 2,
  apr: 3,
  may: 4,
  jun: 5,
  jul: 6,
  aug: 7,
  sep: 8,
  oct: 9,
  nov: 10,
  dec: 11,
};

// RFC 5322 §4.3: obsolete zone names; military single letters are treated as +0000.
const ZONES: Record<string, number> = {
  ut: 0,
  gmt: 0,
  z: 0,
  utc: 0,
  edt: -4 * 60,
  est: -5 * 60,
  cdt: -5 * 60,
  cst: -6 * 60,
  mdt: -6 * 60,
  mst: -7 * 60,
  pdt: -7 * 60,
  pst: -8 * 60,
};

// Between day, month and year: whitespace, or a dash with optional whitespace around it.
// Written `\s*(?:-\s*)?`, not the equivalent `\s*[- ]?\s*`: two adjacent `\s*` can split a run
// of n spaces n ways, and a failing match tries them all (quadratic, seconds on a long value).
const DATE_RE =
  /(\d{1,2})\s*(?:-\s*)?([a-z]{3})[a-z]*\.?\s*(?:-\s*)?(\d{2,4})\s+(\d{1,2}):(\d{1,2})(?::(\d{1,2}))?(?:\.\d+)?\s*([+-]\d{2}:?\d{2}|[a-z]+)?/i;

export function parseDate(value: string | null): number | null {
  if (value === null) return null;
  const s = stripComments(value, ' ');
  const m = DATE_RE.exec(s);
  if (m) {
    const day = Number(m[1]);
    const month = MONTHS[m[2].toLowerCase()];
    let year = Number(m[3]);
    if (m[3].length === 2) year += year < 50 ? 2000 : 1900;
    else if (m[3].length === 3) year += 1900;
    const [h, min, sec] = [Number(m[4]), Number(m[5]), Number(m[6] ?? 0)];
    if (month !== undefined && day >= 1 && day <= 31 && h < 24 && min < 60 && sec <= 60) {
      let offset = 0;
      const z = m[7];
      if (z && /^[+-]/.test(z)) {
        const digits = z.replace(':', '');
        const sign = z[0] === '-' ? -1 : 1;
        offset = sign * (Number(digits.slice(1, 3)) * 60 + Number(digits.slice(3, 5)));
      } else if (z) {
        offset = ZONES[z.toLowerCase()] ?? 0;
      }
      const t = Date.UTC(year, month, day, h, min, Math.min(sec, 59)) - offset * 60_000;
      if (Number.isFinite(t)) return t;
    }
  }
  const t = Date.parse(s);
  return Number.isFinite(t) ? t : null;
}
