// Module hooks for a local Lambda container. In Lambda the code directory (/var/task) has no
// package.json above it, so a `.js` file is CommonJS unless a package.json *inside* the code
// directory says `"type": "module"`. Locally the asset sits below the project's own package.json
// (which is ESM), so without this hook Node would load CommonJS bundles as ESM and fail.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

let taskRoot;

export function initialize(data) {
  taskRoot = path.resolve(data.taskRoot);
}

function formatInsideTaskRoot(file) {
  for (let dir = path.dirname(file); dir.startsWith(taskRoot); dir = path.dirname(dir)) {
    const pkg = path.join(dir, 'package.json');
    if (existsSync(pkg)) {
      try {
        return JSON.parse(readFileSync(pkg, 'utf8')).type === 'module' ? 'module' : 'commonjs';
      } catch {
        return 'commonjs';
      }
    }
    if (dir === taskRoot) break;
  }
  return 'commonjs';
}

export async function load(url, context, nextLoad) {
  if (url.startsWith('file:') && url.endsWith('.js')) {
    const file = fileURLToPath(url);
    if (file.startsWith(taskRoot + path.sep)) {
      const format = formatInsideTaskRoot(file);
      // With a source, Node evaluates it as CommonJS regardless of the package scope above it.
      if (format === 'commonjs') return { format: 'commonjs', shortCircuit: true, source: readFileSync(file, 'utf8') };
    }
  }
  return nextLoad(url, context);
}
