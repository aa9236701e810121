import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { decodeCharset } from '../../src/mime/charset.js';
import { decodeEncodedWords } from '../../src/mime/encoded-words.js';

describe('decodeEncodedWords', () => {
  const cases: [string, string, string][] = [
    ['plain text untouched', 'hello world', 'hello world'],
    ['Q with underscore', '=?utf-8?q?hello_w=C3=B6rld?=', 'hello wörld'],
    ['B', '=?UTF-8?B?4oKsIDEwMA==?=', '€ 100'],
    ['B without padding', '=?utf-8?b?4oKs?=', '€'],
    ['adjacent words joined', '=?utf-8?q?a?= =?utf-8?q?b?=', 'ab'],
    ['adjacent words over folding', '=?utf-8?q?a?=\r\n\t=?utf-8?q?b?=', 'ab'],
    ['text between words kept', '=?utf-8?q?a?= x =?utf-8?q?b?=', 'a x b'],
    ['surrounding text kept', 'Re: =?utf-8?q?caf=C3=A9?= ok', 'Re: café ok'],
    ['split multibyte char across words', '=?utf-8?b?4o==?= =?utf-8?b?gqw=?=', '€'],
    ['different charsets adjacent', '=?iso-8859-1?q?caf=E9?= =?utf-8?b?4oKs?=', 'café€'],
    ['latin1', '=?iso-8859-1?q?Gr=FC=DFe?=', 'Grüße'],
    ['windows-1251', '=?windows-1251?B?z/Do4uXy?=', 'Привет'],
    ['koi8-r', '=?koi8-r?b?8NLJ18XU?=', 'Привет'],
    ['iso-2022-jp', '=?ISO-2022-JP?B?GyRCRnxLXDhsGyhC?=', '日本語'],
    ['shift_jis', '=?shift_jis?B?k/qWe4zq?=', '日本語'],
    ['gb2312', '=?gb2312?B?1tDOxA==?=', '中文'],
    ['big5', '=?big5?B?pKSk5Q==?=', '中文'],
    ['euc-kr', '=?euc-kr?B?x9Gx2w==?=', '한글'],
    ['charset with language', '=?utf-8*en?q?hi?=', 'hi'],
    ['unknown charset as latin1', '=?x-unknown?q?caf=E9?=', 'café'],
    ['invalid base64 left as is', '=?utf-8?b?!!!?=', '=?utf-8?b?!!!?='],
    ['unknown encoding left as is', '=?utf-8?x?abc?=', '=?utf-8?x?abc?='],
    ['malformed Q escape kept', '=?utf-8?q?a=ZZ?=', 'a=ZZ'],
    ['glued to text', 'x=?utf-8?q?y?=z', 'xyz'],
    ['empty word', '=?utf-8?q??=', ''],
  ];
  for (const [name, input, want] of cases) {
    test(name, () => assert.equal(decodeEncodedWords(input), want));
  }
});

describe('decodeCharset', () => {
  test('aliases and fallbacks', () => {
    assert.equal(decodeCharset(Buffer.from([0xcf, 0xf0]), 'cp1251'), 'Пр');
    assert.equal(decodeCharset(Buffer.from([0xe9]), 'no-such-charset'), 'é');
    assert.equal(decodeCharset(Buffer.from([0xe9]), 'utf-7'), 'é');
    assert.equal(decodeCharset(Buffer.from('é', 'utf8'), null), 'é');
    assert.equal(decodeCharset(Buffer.from([0xe9]), 'us-ascii'), 'é');
    assert.equal(decodeCharset(Buffer.from([0x80]), 'windows-1252'), '€');
  });
});

test('adjacent ISO-2022-JP words decode word by word', () => {
  assert.equal(
    decodeEncodedWords('=?ISO-2022-JP?B?GyRCRnxLXDhsGyhC?= =?ISO-2022-JP?B?GyRCJUYlOSVIGyhC?='),
    '日本語テスト',
  );
});
