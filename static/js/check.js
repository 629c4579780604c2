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

  var L = window.UndersignedLog;  // static/js/tlog.js, loaded first
  var b64 = L.b64, hex = L.hex, unhex = L.unhex, concat = L.concat, sha256 = L.sha256;
  var get = L.get, verifyNote = L.verifyNote, verifyInclusion = L.verifyInclusion;

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
