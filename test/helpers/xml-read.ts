// Reads XML back with an independent parser (Python's ElementTree and plistlib), so tests check
// what a client's parser sees, not what our own writer meant. python3 is in .ci/run's packages;
// without it these throw (the tests fail, they do not skip).
import { spawnSync } from 'node:child_process';

export interface XmlElement {
  /** Local name, the namespace as `ns`. */
  tag: string;
  ns: string | null;
  attrs: Record<string, string>;
  text: string;
  children: XmlElement[];
}

const ELEMENT_TREE = `
import json, sys, xml.etree.ElementTree as ET
def conv(e):
    ns, tag = (e.tag[1:].split('}', 1) if e.tag.startswith('{') else (None, e.tag))
    return {'tag': tag, 'ns': ns, 'attrs': dict(e.attrib), 'text': (e.text or '').strip(),
            'children': [conv(c) for c in e]}
print(json.dumps(conv(ET.fromstring(sys.stdin.buffer.read()))))
`;

const PLIST = `
import json, plistlib, sys
print(json.dumps(plistlib.loads(sys.stdin.buffer.read())))
`;

function python(script: string, input: string): unknown {
  const r = spawnSync('python3', ['-c', script], { input, encoding: 'utf8' });
  if (r.error) throw new Error(`python3 is needed to read XML back: ${r.error.message}`);
  if (r.status !== 0) throw new Error(`not well-formed:\n${r.stderr}\n${input}`);
  return JSON.parse(r.stdout);
}

/** The document's root element; throws if the XML is not well-formed. */
export function parseXml(xml: string): XmlElement {
  return python(ELEMENT_TREE, xml) as XmlElement;
}

/** An Apple property list as JSON values; throws if it is not one. */
export function parsePlist(xml: string): Record<string, unknown> {
  return python(PLIST, xml) as Record<string, unknown>;
}

/** Children of `e` named `tag`. */
export function children(e: XmlElement, tag: string): XmlElement[] {
  return e.children.filter((c) => c.tag === tag);
}

/** The text of the only child named `tag`. */
export function childText(e: XmlElement, tag: string): string {
  const c = children(e, tag);
  if (c.length !== 1) throw new Error(`${e.tag} has ${c.length} <${tag}>`);
  return c[0]!.text;
}
