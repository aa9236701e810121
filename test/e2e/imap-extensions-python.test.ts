// METADATA (RFC 5464) and REPLACE (RFC 8508) end to end with a real client over TCP: Python's
// imaplib, which knows neither command, drives them with _simple_command (its literal support
// carries REPLACE's message) and parses the untagged METADATA responses itself.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { runImaplib, startImapServerWithUser } from '../helpers/python-imap.js';
import type { TestServer } from '../helpers/server.js';

const USER = 'erin@example.test';
const PASS = 'pw-erin-1';

const PY = String.raw`
import imaplib, ssl, sys, json
port, user, pw = int(sys.argv[1]), sys.argv[2], sys.argv[3]
for name in ('GETMETADATA', 'SETMETADATA'):
    imaplib.Commands[name] = ('AUTH', 'SELECTED')
imaplib.Commands['REPLACE'] = ('SELECTED',)
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
M = imaplib.IMAP4_SSL('127.0.0.1', port, ssl_context=ctx)
M.login(user, pw)
out = {'caps': M.capability()[1][0].decode().split()}
def cmd(*args):
    typ, dat = M._simple_command(*args)
    return typ, [d.decode() if isinstance(d, bytes) else [x.decode() for x in d] for d in dat]
out['set'] = cmd('SETMETADATA', 'INBOX', '(/private/comment "from imaplib" /shared/comment "team")')
typ, dat = M._simple_command('GETMETADATA', 'INBOX', '(/private/comment /shared/comment)')
out['get'] = [typ, [d.decode() for d in M._untagged_response(typ, dat, 'METADATA')[1]]]
out['bad'] = None
try:
    M._simple_command('GETMETADATA', 'INBOX', '/nope/x')
except M.error as e:
    out['bad'] = str(e)
M.append('INBOX', None, None, b'Subject: draft 1\r\n\r\nfirst\r\n')
M.select('INBOX')
M.literal = b'Subject: draft 2\r\n\r\nsecond\r\n'
typ, dat = M._simple_command('REPLACE', '1', 'INBOX', '(\\Draft)')
out['replace'] = [typ, dat[0].decode()]
out['appenduid'] = [d.decode() for d in M.untagged_responses.pop('OK', [])]
out['expunge'] = [d.decode() for d in M.untagged_responses.pop('EXPUNGE', [])]
typ, dat = M.fetch('1:*', '(FLAGS BODY.PEEK[HEADER.FIELDS (SUBJECT)])')
out['fetch'] = [d[0].decode() + d[1].decode() for d in dat if isinstance(d, tuple)]
M.logout()
print(json.dumps(out))
`;

describe('IMAP e2e: METADATA and REPLACE with Python imaplib', () => {
  let ts: TestServer;
  before(async () => {
    ts = await startImapServerWithUser(USER, PASS);
  });
  after(async () => {
    await ts.stop();
  });

  test('annotations set and read back, a draft replaced atomically', async () => {
    const out = await runImaplib(ts, PY, USER, PASS);
    assert.ok(out.caps.includes('METADATA') && out.caps.includes('REPLACE'), out.caps.join(' '));
    assert.deepEqual(out.set, ['OK', ['SETMETADATA completed']]);
    assert.deepEqual(out.get, [
      'OK',
      ['INBOX (/private/comment "from imaplib" /shared/comment "team")'],
    ]);
    assert.match(out.bad, /BAD.*Entry names start with \/private\/ or \/shared\//);
    assert.deepEqual(out.replace, ['OK', 'REPLACE completed']);
    assert.ok(
      out.appenduid.some((l: string) => /^\[APPENDUID \d+ 2\] Replacement Message ready$/.test(l)),
      out.appenduid.join('\n'),
    );
    assert.deepEqual(out.expunge, ['1']);
    assert.equal(out.fetch.length, 1, out.fetch.join('\n'));
    // imaplib is an IMAP4rev1 client and its session replaced the draft: \Recent (RFC 3501 §2.3.2).
    assert.match(out.fetch[0], /FLAGS \(\\Draft \\Recent\)/);
    assert.match(out.fetch[0], /Subject: draft 2/);
  });
});
