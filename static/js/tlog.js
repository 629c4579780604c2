// The public log's checks in the browser, with WebCrypto, trusting nothing but the published
// key: C2SP signed notes (Ed25519), RFC 6962 inclusion and consistency proofs, the tree hash of
// a run of entries. Shared by "Check my signature" (check.js) and deliveries (delivery.js).
window.UndersignedLog = (function () {
  "use strict";
  var enc = new TextEncoder();

  function b64(text) {
    var bin = atob(text), out = new Uint8Array(bin.length);
    for (var i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
    return out;
  }
  function hex(bytes) {
    return Array.from(bytes, function (b) { return b.toString(16).padStart(2, "0"); }).join("");
  }
  function unhex(text) {
    var out = new Uint8Array(text.length / 2);
    for (var i = 0; i < out.length; i++) out[i] = parseInt(text.substr(i * 2, 2), 16);
    return out;
  }
  function concat() {
    var parts = Array.from(arguments), n = 0, at = 0;
    parts.forEach(function (p) { n += p.length; });
    var out = new Uint8Array(n);
    parts.forEach(function (p) { out.set(p, at); at += p.length; });
    return out;
  }
  async function sha256(bytes) {
    return new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  }
  function same(a, b) {
    if (a.length !== b.length) return false;
    for (var i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
    return true;
  }
  async function get(path, asText) {
    var response = await fetch(path, { headers: { Accept: asText ? "text/plain" : "application/json" } });
    if (!response.ok) throw new Error(path + " answered " + response.status);
    return asText ? response.text() : response.json();
  }
  async function verifyNote(note, vkey) {
    // name+keyid+base64: the base64 part may itself hold "+".
    var parts = vkey.trim().split("+");
    var name = parts[0], keyId = unhex(parts[1]), raw = b64(parts.slice(2).join("+"));
    if (raw[0] !== 1 || raw.length !== 33) throw new Error("the published key is not an Ed25519 key");
    var pub = raw.slice(1);
    var computedId = (await sha256(concat(enc.encode(name + "\n"), new Uint8Array([1]), pub))).slice(0, 4);
    if (!same(computedId, keyId)) throw new Error("the published key's ID does not match the key");
    var split = note.indexOf("\n\n");
    if (split < 0) throw new Error("the checkpoint is not a signed note");
    var text = note.slice(0, split + 1);
    var key = await crypto.subtle.importKey("raw", pub, { name: "Ed25519" }, false, ["verify"]);
    var lines = note.slice(split + 2).split("\n").filter(Boolean);
    for (var i = 0; i < lines.length; i++) {
      var prefix = "\u2014 " + name + " ";
      if (lines[i].indexOf(prefix) !== 0) continue;
      var sig = b64(lines[i].slice(prefix.length));
      if (!same(sig.slice(0, 4), keyId)) continue;
      if (await crypto.subtle.verify("Ed25519", key, sig.slice(4), enc.encode(text))) return text;
      throw new Error("the checkpoint's signature is not valid");
    }
    throw new Error("the checkpoint is not signed by the published key");
  }
  // A verified checkpoint's text: origin, size, root.
  function parseCheckpoint(text) {
    var lines = text.split("\n");
    return { origin: lines[0], size: parseInt(lines[1], 10), root: b64(lines[2]) };
  }
  function node(left, right) {
    return sha256(concat(new Uint8Array([1]), left, right));
  }
  function leaf(data) {
    return sha256(concat(new Uint8Array([0]), data));
  }
  async function verifyInclusion(leafHash, index, size, path, root) {
    var fn = index, sn = size - 1, r = leafHash;
    for (var i = 0; i < path.length; i++) {
      if (sn === 0) return false;
      if ((fn & 1) || fn === sn) {
        r = await node(path[i], r);
        if (!(fn & 1)) { while (!(fn & 1) && fn !== 0) { fn = Math.floor(fn / 2); sn = Math.floor(sn / 2); } }
      } else {
        r = await node(r, path[i]);
      }
      fn = Math.floor(fn / 2); sn = Math.floor(sn / 2);
    }
    return sn === 0 && same(r, root);
  }
  // RFC 6962 section 2.1.4.2, as lib/merkle.py verify_consistency.
  async function verifyConsistency(m, n, oldRoot, newRoot, path) {
    var empty = await sha256(new Uint8Array(0));
    if (!(0 <= m && m <= n)) return false;
    if (m === 0) return path.length === 0 && same(oldRoot, empty) && (n > 0 || same(newRoot, empty));
    if (m === n) return path.length === 0 && same(oldRoot, newRoot);
    if (path.length === 0) return false;
    path = path.slice();
    if ((m & (m - 1)) === 0) path.unshift(oldRoot);
    var fn = m - 1, sn = n - 1;
    while (fn & 1) { fn = Math.floor(fn / 2); sn = Math.floor(sn / 2); }
    var first = path[0], second = path[0];
    for (var i = 1; i < path.length; i++) {
      var c = path[i];
      if (sn === 0) return false;
      if ((fn & 1) || fn === sn) {
        first = await node(c, first);
        second = await node(c, second);
        while (fn && !(fn & 1)) { fn = Math.floor(fn / 2); sn = Math.floor(sn / 2); }
      } else {
        second = await node(second, c);
      }
      fn = Math.floor(fn / 2); sn = Math.floor(sn / 2);
    }
    return sn === 0 && same(first, oldRoot) && same(second, newRoot);
  }
  // The Merkle tree hash of leaf hashes added one by one (a stack of complete subtrees).
  function TreeHasher() { this.stack = []; }
  TreeHasher.prototype.add = async function (leafHash) {
    var item = { hash: leafHash, size: 1 };
    while (this.stack.length && this.stack[this.stack.length - 1].size === item.size) {
      var left = this.stack.pop();
      item = { hash: await node(left.hash, item.hash), size: left.size * 2 };
    }
    this.stack.push(item);
  };
  TreeHasher.prototype.root = async function () {
    if (!this.stack.length) return sha256(new Uint8Array(0));
    var r = this.stack[this.stack.length - 1].hash;
    for (var i = this.stack.length - 2; i >= 0; i--) r = await node(this.stack[i].hash, r);
    return r;
  };

  return {
    b64: b64, hex: hex, unhex: unhex, concat: concat, sha256: sha256, same: same, get: get,
    verifyNote: verifyNote, parseCheckpoint: parseCheckpoint, leaf: leaf,
    verifyInclusion: verifyInclusion, verifyConsistency: verifyConsistency, TreeHasher: TreeHasher
  };
})();
