// "Check my signature", verified in the browser with WebCrypto, trusting nothing but the
// published key: the checkpoint's Ed25519 signature (C2SP signed-note), the receipt's refs, and
// the RFC 6962 inclusion proof of each entry under the checkpoint's root. A receipt holds one
// entry per level its signature has had ("earlier", then the current one); each earlier entry
// must have been withdrawn since.
(function () {
  "use strict";
  var form = document.getElementById("check-form");
  var button = document.getElementById("check-browser");
  var out = document.getElementById("browser-result");
  if (!form || !button || !window.crypto || !window.crypto.subtle) return;
  button.hidden = false;
  var slug = form.dataset.slug;
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
  async function verifyInclusion(leaf, index, size, path, root) {
    var fn = index, sn = size - 1, r = leaf;
    for (var i = 0; i < path.length; i++) {
      if (sn === 0) return false;
      if ((fn & 1) || fn === sn) {
        r = await sha256(concat(new Uint8Array([1]), path[i], r));
        if (!(fn & 1)) { while (!(fn & 1) && fn !== 0) { fn = Math.floor(fn / 2); sn = Math.floor(sn / 2); } }
      } else {
        r = await sha256(concat(new Uint8Array([1]), r, path[i]));
      }
      fn = Math.floor(fn / 2); sn = Math.floor(sn / 2);
    }
    return sn === 0 && same(r, root);
  }
  // One entry of the receipt: its ref rebuilt from the salt, the log's entry at its index a
  // "sign" with that ref, and the entry included under the signed root.
  async function proveEntry(item, idBytes, size, root) {
    var ref = hex(await sha256(concat(unhex(item.salt), idBytes)));
    if (ref !== item.ref) throw new Error("the receipt does not hold together: its ref does not match");
    var index = item.index;
    if (!Number.isSafeInteger(index) || index < 0) throw new Error("the receipt's index is not a whole number");
    if (index >= size) throw new Error("your entry is newer than the latest checkpoint: try again in a minute");
    var page = await get("/api/letters/" + slug + "/log/entries?start=" + index + "&end=" + (index + 1));
    var data = b64(page.entries[0].data);
    var entry = JSON.parse(new TextDecoder().decode(data));
    if (entry.ref !== ref || entry.kind !== "sign") throw new Error("the log's entry " + index + " is not your signature");
    // Entries since letters have translations name the text read: its language and SHA-256.
    if ("text" in entry && !/^[0-9a-f]{64}$/.test(entry.text)) throw new Error("the log's entry " + index + " has a malformed text hash");
    var read = entry.text ? " It counts your signature of the text in " + entry.language + " whose SHA-256 is " + entry.text + "." : "";
    var proof = await get("/api/letters/" + slug + "/log/inclusion?index=" + index + "&size=" + size);
    var leaf = await sha256(concat(new Uint8Array([0]), data));
    if (!(await verifyInclusion(leaf, index, size, proof.path.map(b64), root))) {
      throw new Error("the inclusion proof does not lead to the signed root");
    }
    return read;
  }
  // What became of each ref since its entry: the last withdraw, hide or restore carrying it.
  async function fates(items, size) {
    var fate = {}, start = items[0].index + 1;
    items.forEach(function (item) { fate[item.ref] = "counted"; });
    for (var scanned = 0; start < size && scanned < 50; start += 1000, scanned++) {
      var later = await get("/api/letters/" + slug + "/log/entries?start=" + start + "&end=" + Math.min(size, start + 1000));
      later.entries.forEach(function (e) {
        var ev = JSON.parse(new TextDecoder().decode(b64(e.data)));
        if (!(ev.ref in fate)) return;
        if (ev.kind === "withdraw") fate[ev.ref] = "withdrawn";
        if (ev.kind === "hide") fate[ev.ref] = "hidden";
        if (ev.kind === "restore") fate[ev.ref] = "counted";
      });
    }
    return fate;
  }
  async function check() {
    var receipt = JSON.parse(document.getElementById("receipt").value);
    if (receipt.letter !== slug) throw new Error("this receipt is for another letter");
    // Entries from before each change of level first, the current one last.
    var items = (Array.isArray(receipt.earlier) ? receipt.earlier : []).concat([receipt]);
    for (var i = 1; i < items.length; i++) {
      if (!(items[i].index > items[i - 1].index)) throw new Error("the receipt does not hold together: its entries are out of order");
    }
    var idBytes = unhex(receipt.id.replace(/-/g, ""));
    var vkey = await get("/api/log/key", true);
    var text = await verifyNote(await get("/api/letters/" + slug + "/log/checkpoint", true), vkey);
    var lines = text.split("\n");
    var size = parseInt(lines[1], 10), root = b64(lines[2]);
    var read = "";
    for (var j = 0; j < items.length; j++) read = await proveEntry(items[j], idBytes, size, root);
    var fate = await fates(items, size);
    var earlier = items.slice(0, -1);
    earlier.forEach(function (item) {
      if (fate[item.ref] === "counted") throw new Error("entry " + item.index + ", from before a change of level, still counts: please tell the organisers");
    });
    var status = {
      counted: "and it is still counted",
      withdrawn: "but it has since been withdrawn",
      hidden: "but it has since been hidden by a moderator"
    }[fate[receipt.ref]];
    var history = earlier.length ? " Before your change of level it was entry " + earlier.map(function (item) { return item.index; }).join(", ") + ", withdrawn since." : "";
    return "Verified in your browser: entry " + receipt.index + " is in the signed checkpoint of " + size + " entries, " + status + "." + history + read;
  }
  button.addEventListener("click", function () {
    out.className = "";
    out.textContent = "Checking…";
    check().then(function (message) {
      out.className = "ok";
      out.textContent = message;
    }).catch(function (error) {
      out.className = "error";
      out.textContent = "Browser check failed: " + error.message + ".";
    });
  });
})();
