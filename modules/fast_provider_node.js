// Fast provider loading on the Node side of jsii (preloaded with `node --require` by
// modules/fast_provider.py; the Python half of the same idea).
//
// Why: the jsii kernel `require`s the provider's lib/index.js, which `require`s all ~2,200
// resource modules (267 MB of JavaScript): ~5 s of Node CPU per synth, while the app uses a
// few dozen. Here each `exports.x = require("./x");` line of that one file becomes a getter
// that requires the module on first access. The kernel finds a class by walking its FQN
// (`@cdktf/provider-aws.s3Bucket.S3Bucket` -> exports.s3Bucket.S3Bucket), so the getter runs
// exactly when a type is first used; the modules themselves run unchanged, and the JSON is
// the same byte for byte (tests/test_fast_imports.py).
//
// Safety: only a file named lib/index.js whose package.json names @cdktf/provider-aws is
// touched, and only when every statement after the header is such a line; anything else is
// compiled as shipped.
"use strict";
const fs = require("fs");
const path = require("path");
const Module = require("module");

const PACKAGE = "@cdktf/provider-aws";
const EXPORT_LINE = /^exports\.([A-Za-z_$][\w$]*) = require\("(\.\/[a-z0-9-]+)"\);$/;
const MIN_EXPORTS = 100;

function isProviderIndex(filename) {
  if (path.basename(filename) !== "index.js" || path.basename(path.dirname(filename)) !== "lib") {
    return false;
  }
  try {
    const manifest = path.join(path.dirname(path.dirname(filename)), "package.json");
    return JSON.parse(fs.readFileSync(manifest, "utf8")).name === PACKAGE;
  } catch {
    return false;
  }
}

// The same module with getters instead of eager requires, or null when the layout differs.
function lazySource(content) {
  const lines = content.split("\n");
  let count = 0;
  for (let i = 0; i < lines.length; i++) {
    const match = EXPORT_LINE.exec(lines[i]);
    if (match) {
      lines[i] = `Object.defineProperty(exports, ${JSON.stringify(match[1])}, ` +
        `{ enumerable: true, configurable: true, get: () => require(${JSON.stringify(match[2])}) });`;
      count++;
    } else if (lines[i].startsWith("exports.") && lines[i].includes("require(")) {
      return null; // a require we do not understand: keep the stock module
    }
  }
  return count >= MIN_EXPORTS ? lines.join("\n") : null;
}

const compile = Module.prototype._compile;
Module.prototype._compile = function (content, filename, ...rest) {
  if (typeof content === "string" && isProviderIndex(filename)) {
    content = lazySource(content) ?? content;
  }
  return compile.call(this, content, filename, ...rest);
};

module.exports = { isProviderIndex, lazySource }; // for tests/test_fast_imports.py
