// "Check my signature", verified in the browser with WebCrypto, trusting nothing but the
// published key: the checkpoint's Ed25519 signature (C2SP signed-note), the receipt's ref, and
// the RFC 6962 inclusion proof of the entry under the checkpoint's root.
(function () {
  "use strict";
  var form = document.getElementById("check-form");
  var button = document.getElementById("check-browser");
  var out = document.getElementById("browser-result");
  if (!form || !button || !window.crypto || !window.crypto.subtle || !window.UndersignedLog) return;
  button.hidden = false;
  var slug = form.dataset.slug;

  var L = window.UndersignedLog;  // static/js/tlog.js, loaded first
  var b64 = L.b64, hex = L.hex, unhex = L.unhex, concat = L.concat, sha256 = L.sha256;
  var get = L.get, verifyNote = L.verifyNote, verifyInclusion = L.verifyInclusion;

  async function check() {
    var receipt = JSON.parse(document.getElementById("receipt").value);
    if (receipt.letter !== slug) throw new Error("this receipt is for another letter");
    var ref = hex(await sha256(concat(unhex(receipt.salt), unhex(receipt.id.replace(/-/g, "")))));
    if (ref !== receipt.ref) throw new Error("the receipt does not hold together: its ref does not match");
    var vkey = await get("/api/log/key", true);
    var text = await verifyNote(await get("/api/letters/" + slug + "/log/checkpoint", true), vkey);
    var lines = text.split("\n");
    var size = parseInt(lines[1], 10), root = b64(lines[2]), index = receipt.index;
    if (index >= size) throw new Error("your entry is newer than the latest checkpoint: try again in a minute");
    var page = await get("/api/letters/" + slug + "/log/entries?start=" + index + "&end=" + (index + 1));
    var data = b64(page.entries[0].data);
    var entry = JSON.parse(new TextDecoder().decode(data));
    if (entry.ref !== ref || entry.kind !== "sign") throw new Error("the log's entry " + index + " is not your signature");
    var proof = await get("/api/letters/" + slug + "/log/inclusion?index=" + index + "&size=" + size);
    var leaf = await sha256(concat(new Uint8Array([0]), data));
    if (!(await verifyInclusion(leaf, index, size, proof.path.map(b64), root))) {
      throw new Error("the inclusion proof does not lead to the signed root");
    }
    var status = "and it is still counted";
    var scanned = 0;
    for (var start = index + 1; start < size && scanned < 50; start += 1000, scanned++) {
      var later = await get("/api/letters/" + slug + "/log/entries?start=" + start + "&end=" + Math.min(size, start + 1000));
      later.entries.forEach(function (e) {
        var ev = JSON.parse(new TextDecoder().decode(b64(e.data)));
        if (ev.ref !== ref) return;
        if (ev.kind === "withdraw") status = "but it has since been withdrawn";
        if (ev.kind === "hide") status = "but it has since been hidden by a moderator";
        if (ev.kind === "restore") status = "and it is still counted";
      });
    }
    return "Verified in your browser: entry " + index + " is in the signed checkpoint of " + size + " entries, " + status + ".";
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
