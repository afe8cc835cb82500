#!/usr/bin/env node
// Fill an XForm with the real ODK Web Forms engine (@getodk/xforms-engine) in plain Node, and optionally
// submit it to an OpenRosa server the way a web-form host page does. Ruta's tests use it to prove that
// the forms Ruta serves load and validate in someone else's engine, and that Ruta accepts what that
// engine produces.
//
//   node fill.mjs --xform FORM.xml --answers ANSWERS.json [--lang CODE] [--labels] [--attachment NAME=PATH ...]
//   node fill.mjs --server ROOT --form-id ID --answers ANSWERS.json [--auth-header "Bearer ..."] [--lang CODE]
//
// ANSWERS.json maps an instance reference to a value: "/data/consent" (absolute, repeat positions
// ignored) or "consent" (the last step). Values are strings (numbers are stringified), arrays for
// select_multiple / rank, booleans for triggers, {"file": PATH, "type": MIME} for uploads, and for a
// repeat an array of objects, one per instance, whose keys are resolved inside that instance.
// Every key must be used: an answer aimed at a missing or non-relevant question is an error, so a
// typo or a skip-logic change fails loudly instead of producing a half-empty instance.
//
// Output (stdout, one JSON object). Fill mode: {status, violations, xml, instanceID, attachments,
// language[, labels]}. Server mode: {status, httpStatus, responseBody, instanceID, xml}.
// Exit codes: 0 ok; 1 usage or input error; 2 the form failed to load or fill; 3 the server refused.

import { readFile } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { JSDOM } from 'jsdom';

class HarnessError extends Error {
  constructor(message, exitCode = 2) {
    super(message);
    this.exitCode = exitCode;
  }
}

// The engine expects a browser: DOM classes on globalThis, and (in its bundled XPath parser, built as
// CommonJS) a __dirname pointing at its own dist/ folder. Both must exist before the engine is imported.
// Node's own fetch, FormData, Blob and File are kept: the payload is POSTed with Node's fetch.
const dom = new JSDOM('<!doctype html><html><head></head><body></body></html>', { contentType: 'text/html' });
for (const name of [
  'DOMParser', 'XMLSerializer', 'Node', 'Element', 'Document', 'XMLDocument', 'NodeFilter', 'Attr', 'Text',
  'XPathResult', 'XPathEvaluator',
]) {
  globalThis[name] = dom.window[name];
}
globalThis.document = dom.window.document;
globalThis.__dirname = dirname(fileURLToPath(import.meta.resolve('@getodk/xforms-engine')));
const { createInstance } = await import('@getodk/xforms-engine');

const OPENROSA = { 'X-OpenRosa-Version': '1.0' };

function parseArgs(argv) {
  const options = { labels: false, attachments: new Map() };
  const valued = new Set(['--xform', '--answers', '--lang', '--server', '--form-id', '--auth-header', '--device-id']);
  for (let i = 0; i < argv.length; i += 1) {
    const arg = argv[i];
    if (arg === '--labels') {
      options.labels = true;
    } else if (arg === '--attachment') {
      // A form attachment served to the engine in fill mode (e.g. an entity list's CSV), as a manifest would.
      const spec = argv[(i += 1)] ?? '';
      const cut = spec.indexOf('=');
      if (cut < 1) throw new HarnessError('--attachment needs NAME=PATH', 1);
      options.attachments.set(spec.slice(0, cut), spec.slice(cut + 1));
    } else if (valued.has(arg)) {
      if (i + 1 >= argv.length) throw new HarnessError(`${arg} needs a value`, 1);
      options[arg.slice(2).replace(/-([a-z])/g, (_, c) => c.toUpperCase())] = argv[(i += 1)];
    } else {
      throw new HarnessError(`unknown argument ${arg}`, 1);
    }
  }
  if (!options.answers) throw new HarnessError('--answers FILE is required', 1);
  if (Boolean(options.xform) === Boolean(options.server)) {
    throw new HarnessError('give exactly one of --xform FILE or --server ROOT (with --form-id ID)', 1);
  }
  if (options.server && !options.formId) throw new HarnessError('--server needs --form-id', 1);
  return options;
}

async function readJson(path) {
  let text;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new HarnessError(`cannot read ${path}: ${error.message}`, 1);
  }
  try {
    const value = JSON.parse(text);
    if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new Error('not an object');
    return value;
  } catch (error) {
    throw new HarnessError(`${path} must hold a JSON object of answers (${error.message})`, 1);
  }
}

// "/data/members[2]/age" -> "/data/members/age": answers address questions, not repeat positions.
const stripPositions = (reference) => reference.replace(/\[\d+\]/g, '');
const lastStep = (reference) => stripPositions(reference).split('/').pop();

// A scope is one answers object (the root's, or one repeat instance's) plus the keys it has used.
function makeScope(answers, where) {
  return { answers, where, used: new Set() };
}

function lookup(scope, reference) {
  const absolute = stripPositions(reference);
  for (const key of [absolute, lastStep(reference)]) {
    if (Object.hasOwn(scope.answers, key)) {
      scope.used.add(key);
      return { found: true, value: scope.answers[key], key };
    }
  }
  return { found: false };
}

function checkAllUsed(scope) {
  const unused = Object.keys(scope.answers).filter((key) => !scope.used.has(key));
  if (unused.length > 0) {
    throw new HarnessError(
      `answers not applied in ${scope.where}: ${unused.join(', ')} (no such question, not relevant when reached, ` +
        'or inside a repeat: give repeat answers as an array of objects under the repeat)',
    );
  }
}

async function fileValue(value, reference) {
  if (value === null || value === '') return null;
  if (typeof value !== 'object' || typeof value.file !== 'string') {
    throw new HarnessError(`${reference}: an upload answer is {"file": PATH, "type": MIME}`, 1);
  }
  const bytes = await readFile(value.file);
  return new File([bytes], value.name ?? basename(value.file), { type: value.type ?? 'application/octet-stream' });
}

async function setLeaf(node, value, reference) {
  const asString = (v) => (v === null || v === undefined ? '' : String(v));
  switch (node.nodeType) {
    case 'select':
      if (node.selectType === 'select') {
        const values = Array.isArray(value) ? value.map(asString) : asString(value).split(/\s+/).filter(Boolean);
        node.selectValues(values);
      } else {
        if (Array.isArray(value)) throw new HarnessError(`${reference} is a select_one: give one value`, 1);
        node.selectValue(value === null || value === '' ? null : asString(value));
      }
      break;
    case 'input':
    case 'range':
      node.setValue(Array.isArray(value) ? value.join(' ') : asString(value));
      break;
    case 'rank':
      node.setValues(Array.isArray(value) ? value.map(asString) : asString(value).split(/\s+/).filter(Boolean));
      break;
    case 'trigger':
      node.setValue(value === true || value === 'OK' || value === 'true');
      break;
    case 'upload':
      node.setValue(await fileValue(value, reference));
      break;
    default:
      throw new HarnessError(`${reference} is a ${node.nodeType} node and cannot be answered`, 1);
  }
  // The engine accepts a value outside the choice list silently; a harness must not.
  if (node.nodeType === 'select') {
    const wanted = Array.isArray(value) ? value.map(String) : String(value ?? '').split(/\s+/).filter(Boolean);
    const have = new Set(node.currentState.value);
    const missing = wanted.filter((v) => !have.has(v));
    if (missing.length > 0) {
      const offered = node.currentState.valueOptions.map((option) => option.value).join(', ');
      throw new HarnessError(`${reference}: ${missing.join(', ')} is not a choice here (offered: ${offered})`);
    }
  }
}

async function fillRepeat(range, value, reference) {
  if (!Array.isArray(value) || value.some((item) => item === null || typeof item !== 'object' || Array.isArray(item))) {
    throw new HarnessError(`${reference} is a repeat: give an array of objects, one per instance`, 1);
  }
  if (range.nodeType === 'repeat-range:uncontrolled') {
    const existing = range.currentState.children.length;
    if (existing > value.length) range.removeInstances(value.length, existing - value.length);
    if (existing < value.length) range.addInstances(existing - 1, value.length - existing);
  }
  const instances = range.currentState.children;
  if (instances.length !== value.length) {
    // A controlled repeat (repeat_count) gets its instances from the form, not from the answers.
    throw new HarnessError(
      `${reference} has ${instances.length} instance(s) (repeat_count) but the answers give ${value.length}`,
    );
  }
  for (const [index, instance] of instances.entries()) {
    const scope = makeScope(value[index], `${reference}[${index + 1}]`);
    await fillChildren(instance, scope);
    checkAllUsed(scope);
  }
}

// Walk in document order, so that relevance and repeat counts reflect the answers given before.
async function fillChildren(parent, scope) {
  for (const node of parent.currentState.children ?? []) {
    const reference = node.currentState.reference;
    const answer = lookup(scope, reference);
    if (node.nodeType.startsWith('repeat-range')) {
      if (answer.found) {
        if (!node.currentState.relevant) throw new HarnessError(`${reference} is not relevant; cannot fill it`);
        await fillRepeat(node, answer.value, reference);
      }
      continue;
    }
    if (node.nodeType === 'group') {
      if (answer.found) throw new HarnessError(`${reference} is a group: answer its questions instead`, 1);
      await fillChildren(node, scope);
      continue;
    }
    if (!answer.found) continue;
    if (!node.currentState.relevant) {
      scope.used.delete(answer.key);
      continue;
    }
    await setLeaf(node, answer.value, reference);
  }
}

function chooseLanguage(root, wanted) {
  if (!wanted) return;
  const lower = wanted.toLowerCase();
  const language = root.languages.find(
    (candidate) =>
      candidate.language.toLowerCase() === lower ||
      candidate.language.toLowerCase().endsWith(`(${lower})`) ||
      candidate.locale?.language?.toLowerCase() === lower,
  );
  if (!language) {
    const known = root.languages.map((candidate) => candidate.language).join(', ');
    throw new HarnessError(`language ${wanted} is not in the form (it has: ${known})`, 1);
  }
  root.setLanguage(language);
}

function collectLabels(parent, out = {}) {
  for (const node of parent.currentState.children ?? []) {
    const label = node.currentState.label?.asString;
    if (label && node.currentState.relevant) out[stripPositions(node.currentState.reference)] = label;
    if (!node.nodeType.startsWith('repeat-range')) collectLabels(node, out);
    else for (const instance of node.currentState.children) collectLabels(instance, out);
  }
  return out;
}

const findText = (xml, tag) => xml.match(new RegExp(`<(?:\\w+:)?${tag}>([^<]*)</(?:\\w+:)?${tag}>`))?.[1] ?? null;

async function fill(xformText, answers, { lang, labels, fetchFormAttachment, deviceId }) {
  let instance;
  try {
    instance = await createInstance(xformText, {
      form: {
        fetchFormAttachment: fetchFormAttachment ?? (async () => new Response('', { status: 404 })),
        missingResourceBehavior: 'BLANK',
      },
      // Without a deviceID the engine reaches for localStorage, which Node lacks.
      instance: { preloadProperties: { deviceID: deviceId ?? 'ruta-harness' } },
    });
  } catch (error) {
    throw new HarnessError(`the engine could not load the form: ${error?.message ?? error}`);
  }
  const { root } = instance;
  chooseLanguage(root, lang);
  const scope = makeScope(answers, 'the answers file');
  await fillChildren(root, scope);
  checkAllUsed(scope);
  const payload = await root.prepareInstancePayload();
  const data = payload.data[0];
  const xml = await data.get('xml_submission_file').text();
  const result = {
    status: payload.status,
    violations: (payload.violations ?? []).map((violation) => ({
      reference: violation.reference,
      condition: violation.violation?.condition ?? null,
      message: violation.violation?.message?.asString ?? null,
    })),
    xml,
    instanceID: findText(xml, 'instanceID'),
    attachments: [...data.keys()].filter((name) => name !== 'xml_submission_file'),
    language: root.currentState.activeLanguage.language,
  };
  if (labels) result.labels = collectLabels(root);
  return { result, data };
}

async function request(url, init, what) {
  let response;
  try {
    response = await fetch(url, init);
  } catch (error) {
    throw new HarnessError(`${what}: ${init?.method ?? 'GET'} ${url} failed: ${error.cause?.message ?? error.message}`);
  }
  return response;
}

function parseXml(text, what) {
  const document = new dom.window.DOMParser().parseFromString(text, 'text/xml');
  if (document.getElementsByTagName('parsererror').length > 0) throw new HarnessError(`${what} is not XML`);
  return document;
}

const childText = (element, name) => element.getElementsByTagName(name)[0]?.textContent.trim() ?? null;

async function viaServer(options, answers) {
  const root = options.server.replace(/\/+$/, '');
  const auth = options.authHeader ? { Authorization: options.authHeader } : {};
  const headers = { ...OPENROSA, ...auth };

  const listResponse = await request(`${root}/formList`, { headers: { ...headers, Accept: 'text/xml' } }, 'formList');
  if (!listResponse.ok) {
    throw new HarnessError(`GET ${root}/formList answered ${listResponse.status}: ${await listResponse.text()}`, 3);
  }
  const list = parseXml(await listResponse.text(), 'the formList');
  const entry = [...list.getElementsByTagName('xform')].find((xform) => childText(xform, 'formID') === options.formId);
  if (!entry) throw new HarnessError(`form ${options.formId} is not in ${root}/formList`, 3);
  const downloadUrl = childText(entry, 'downloadUrl');
  const manifestUrl = childText(entry, 'manifestUrl');

  const formResponse = await request(downloadUrl, { headers }, 'XForm download');
  if (!formResponse.ok) throw new HarnessError(`GET ${downloadUrl} answered ${formResponse.status}`, 3);
  const xformText = await formResponse.text();

  // Media named by the manifest, fetched lazily when the engine asks for a jr:// URL.
  const media = new Map();
  if (manifestUrl) {
    const manifestResponse = await request(manifestUrl, { headers }, 'manifest');
    if (!manifestResponse.ok) throw new HarnessError(`GET ${manifestUrl} answered ${manifestResponse.status}`, 3);
    const manifest = parseXml(await manifestResponse.text(), 'the manifest');
    for (const file of manifest.getElementsByTagName('mediaFile')) {
      media.set(childText(file, 'filename'), childText(file, 'downloadUrl'));
    }
  }
  const fetchFormAttachment = async (url) => {
    const name = decodeURIComponent(String(url.href ?? url).split('/').pop());
    const location = media.get(name);
    if (!location) return new Response('', { status: 404 });
    return request(location, { headers }, `attachment ${name}`);
  };

  const { result, data } = await fill(xformText, answers, { ...options, fetchFormAttachment });
  if (result.status !== 'ready') {
    throw new HarnessError(`the instance is not ready to submit: ${JSON.stringify(result.violations)}`);
  }

  // Like Collect and Enketo: HEAD first (auth challenge, accepted size), then POST the multipart body.
  const head = await request(`${root}/submission`, { method: 'HEAD', headers }, 'submission HEAD');
  if (head.status !== 204 && head.status !== 200) {
    throw new HarnessError(`HEAD ${root}/submission answered ${head.status} (expected 204)`, 3);
  }
  const post = await request(`${root}/submission`, { method: 'POST', headers, body: data }, 'submission POST');
  const output = {
    status: result.status,
    httpStatus: post.status,
    responseBody: await post.text(),
    instanceID: result.instanceID,
    xml: result.xml,
  };
  if (post.status !== 201 && post.status !== 202) {
    process.stdout.write(`${JSON.stringify(output)}\n`);
    throw new HarnessError(`POST ${root}/submission answered ${post.status}: ${output.responseBody}`, 3);
  }
  return output;
}

async function main() {
  const options = parseArgs(process.argv.slice(2));
  const answers = await readJson(options.answers);
  if (options.server) return viaServer(options, answers);
  let xformText;
  try {
    xformText = await readFile(options.xform, 'utf8');
  } catch (error) {
    throw new HarnessError(`cannot read ${options.xform}: ${error.message}`, 1);
  }
  const fetchFormAttachment = async (url) => {
    const path = options.attachments.get(decodeURIComponent(String(url.href ?? url).split('/').pop()));
    if (!path) return new Response('', { status: 404 });
    return new Response(await readFile(path));
  };
  return (await fill(xformText, answers, { ...options, fetchFormAttachment })).result;
}

try {
  const output = await main();
  process.stdout.write(`${JSON.stringify(output)}\n`);
} catch (error) {
  process.stderr.write(`fill.mjs: ${error instanceof HarnessError ? error.message : error?.stack ?? error}\n`);
  process.exitCode = error instanceof HarnessError ? error.exitCode : 2;
}
