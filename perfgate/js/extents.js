// The functions of JavaScript/TypeScript files and their line extents, for perfgate's hotspots.
// Usage: node extents.js FILE...  ->  {"FILE": [{"name", "start", "end"}, ...] | {"error"}}
// Parsed with the vendored @babel/parser (JS, JSX, TypeScript, Flow), never executed.
'use strict';
const fs = require('fs');
const path = require('path');
const { parse } = require('./vendor/babel-parser.js');

const FUNCTIONS = new Set(['FunctionDeclaration', 'FunctionExpression', 'ArrowFunctionExpression',
  'ObjectMethod', 'ClassMethod', 'ClassPrivateMethod', 'TSDeclareMethod']);

function plugins(file) {
  const ts = /\.(ts|tsx|mts|cts)$/.test(file);
  const list = ['jsx', 'classProperties', 'decorators-legacy', 'topLevelAwait'];
  if (ts) return file.endsWith('x') ? ['typescript', ...list] : ['typescript', ...list.slice(1)];
  return ['flow', ...list];
}

function keyName(key) {
  if (!key) return null;
  if (key.type === 'Identifier' || key.type === 'PrivateName') return key.name || (key.id && key.id.name);
  if (key.type === 'StringLiteral' || key.type === 'NumericLiteral') return String(key.value);
  return null;
}

// V8 names a function as its declaration, its variable, or its property does.
function nameOf(node, parent) {
  if (node.id && node.id.name) return node.id.name;
  if (node.key) return keyName(node.key) || '(anonymous)';
  if (parent) {
    if (parent.type === 'VariableDeclarator' && parent.id && parent.id.name) return parent.id.name;
    if ((parent.type === 'ObjectProperty' || parent.type === 'ClassProperty') && parent.key)
      return keyName(parent.key) || '(anonymous)';
    if (parent.type === 'AssignmentExpression' && parent.left) {
      const l = parent.left;
      if (l.type === 'Identifier') return l.name;
      if (l.type === 'MemberExpression' && l.property) return keyName(l.property) || '(anonymous)';
    }
  }
  return '(anonymous)';
}

function functions(file) {
  const text = fs.readFileSync(file, 'utf8');
  const ast = parse(text, { sourceType: 'unambiguous', errorRecovery: true,
    allowReturnOutsideFunction: true, allowAwaitOutsideFunction: true, plugins: plugins(file) });
  const out = [];
  const stack = [[ast.program, null]];
  while (stack.length) {
    const [node, parent] = stack.pop();
    if (!node || typeof node.type !== 'string') continue;
    if (FUNCTIONS.has(node.type) && node.loc)
      out.push({ name: nameOf(node, parent), start: node.loc.start.line, end: node.loc.end.line });
    for (const key of Object.keys(node)) {
      if (key === 'loc' || key === 'start' || key === 'end' || key === 'extra') continue;
      const v = node[key];
      if (Array.isArray(v)) { for (const c of v) if (c && typeof c.type === 'string') stack.push([c, node]); }
      else if (v && typeof v.type === 'string') stack.push([v, node]);
    }
  }
  return out.sort((a, b) => a.start - b.start || b.end - a.end);
}

const result = {};
for (const file of process.argv.slice(2)) {
  try { result[file] = functions(path.resolve(file)); }
  catch (e) { result[file] = { error: String(e && e.message || e).split('\n')[0] }; }
}
process.stdout.write(JSON.stringify(result));
