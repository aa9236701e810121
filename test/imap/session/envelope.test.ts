// FETCH ENVELOPE over the wire (RFC 3501 §7.4.2, RFC 9051 §7.5.2): exact responses, with the
// obsolete source route of RFC 5322 §4.4 in addr-adl and ordinary addresses unchanged.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { append, type ImapTestEnv, startImap } from './client.js';

const DATE = 'Tue, 03 Mar 2009 04:05:06 +0100';

function msg(headers: string): Buffer {
  return Buffer.from(`Date: ${DATE}\r\n${headers}\r\n\r\nText.\r\n`);
}

describe('IMAP session: FETCH ENVELOPE', () => {
  let env: ImapTestEnv;
  before(async () => {
    env = await startImap();
  });
  after(async () => {
    await env.ts.stop();
  });

  const cases: Array<[string, string, string]> = [
    [
      'one-hop route',
      'From: <@relay.example:ann@origin.example>',
      `("${DATE}" NIL ((NIL "@relay.example" "ann" "origin.example")) ((NIL "@relay.example" "ann" "origin.example")) ((NIL "@relay.example" "ann" "origin.example")) NIL NIL NIL NIL NIL)`,
    ],
    [
      'two-hop route with a display name; To, Cc in a group',
      'From: Ann Example <@r1.example,@r2.example:ann@origin.example>\r\n' +
        'To: crew: <@hop.example:bo@x.example>, cy@y.example;\r\n' +
        'Cc: <dee@z.example>',
      `("${DATE}" NIL (("Ann Example" "@r1.example,@r2.example" "ann" "origin.example")) (("Ann Example" "@r1.example,@r2.example" "ann" "origin.example")) (("Ann Example" "@r1.example,@r2.example" "ann" "origin.example")) ((NIL NIL "crew" NIL)(NIL "@hop.example" "bo" "x.example")(NIL NIL "cy" "y.example")(NIL NIL NIL NIL)) ((NIL NIL "dee" "z.example")) NIL NIL NIL)`,
    ],
    [
      'ordinary addresses: adl stays NIL',
      'From: ann@origin.example (Ann Example)\r\nSender: Bo <bo@x.example>\r\n' +
        'Reply-To: \r\nTo: team: a@b.example;, c@d.example\r\nSubject: plain\r\n' +
        'Message-ID: <id1@origin.example>\r\nIn-Reply-To: <id0@origin.example>',
      `("${DATE}" "plain" (("Ann Example" NIL "ann" "origin.example")) (("Bo" NIL "bo" "x.example")) (("Ann Example" NIL "ann" "origin.example")) ((NIL NIL "team" NIL)(NIL NIL "a" "b.example")(NIL NIL NIL NIL)(NIL NIL "c" "d.example")) NIL NIL "<id0@origin.example>" "<id1@origin.example>")`,
    ],
    [
      'empty groups, one holding only a comment',
      'From: <ann@origin.example>\r\nCc: crew:;, others: (none) ;',
      `("${DATE}" NIL ((NIL NIL "ann" "origin.example")) ((NIL NIL "ann" "origin.example")) ((NIL NIL "ann" "origin.example")) NIL ((NIL NIL "crew" NIL)(NIL NIL NIL NIL)(NIL NIL "others" NIL)(NIL NIL NIL NIL)) NIL NIL NIL)`,
    ],
  ];

  test('exact ENVELOPE responses', async () => {
    const c = await env.login();
    for (const [, headers] of cases) await append(c, 'INBOX', msg(headers));
    await c.cmd('s', 'SELECT INBOX');
    const r = await c.cmd('f', 'FETCH 1:* (ENVELOPE)');
    cases.forEach(([name, , want], i) => {
      assert.equal(r[i], `* ${i + 1} FETCH (ENVELOPE ${want})`, name);
    });
    assert.match(r[cases.length], /^f OK/);
    c.close();
  });
});
