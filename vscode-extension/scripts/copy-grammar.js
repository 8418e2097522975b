// Copies the one grammar (../syntaxes, generated from the built-in registry) into dist/,
// so the packaged extension carries it.
const fs = require("fs");
const path = require("path");
const src = path.join(__dirname, "..", "..", "syntaxes", "tensorlogic.tmLanguage.json");
const dst = path.join(__dirname, "..", "dist", "tensorlogic.tmLanguage.json");
fs.mkdirSync(path.dirname(dst), { recursive: true });
JSON.parse(fs.readFileSync(src, "utf8")); // fail the build on an invalid grammar
fs.copyFileSync(src, dst);
