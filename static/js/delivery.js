// "Check this count" on a delivery's public page, in the browser, trusting nothing but the
// published key. It checks what the page shows: the checkpoint's signature, that the page's size
// and root are the checkpoint's, that the log's first `size` entries hash to that root and
// replay (as the auditlog command does) to every count shown, and that the log's current signed
// head extends the checkpoint (an RFC 6962 consistency proof).
(function () {
  "use strict";
  var section = document.getElementById("delivery");
  var button = document.getElementById("check-count");
  var out = document.getElementById("check-result");
  if (!section || !button || !window.crypto || !window.crypto.subtle || !window.UndersignedLog) return;
  var L = window.UndersignedLog;
  var text = JSON.parse(document.getElementById("check-messages").textContent);
  var slug = section.dataset.slug;
  var log = "/api/letters/" + encodeURIComponent(slug) + "/log";
  var PAGE = 1000;
  button.hidden = false;

  function shown(id) {
    var value = document.getElementById(id).textContent.trim();
    if (!/^[0-9]+$/.test(value)) throw new Error("the page shows " + JSON.stringify(value) + " for " + id);
    return parseInt(value, 10);
  }

  // The auditor's replay: every undo must undo something counted.
  function Replay() { this.live = {}; this.hidden = {}; }
  Replay.prototype.add = function (seq, e) {
    if (e.seq !== seq || e.letter !== slug) throw new Error("entry " + seq + " is not this letter's entry " + seq);
    var live = this.live, hidden = this.hidden, ref = e.ref;
    if (e.kind === "sign" || e.kind === "cosign") {
      if (ref in live || ref in hidden) throw new Error("entry " + seq + " signs a second time");
      live[ref] = { kind: e.kind, level: e.level, employee: !!e.employee };
    } else if (e.kind === "withdraw" || e.kind === "uncosign") {
      if (ref in live) delete live[ref];
      else if (ref in hidden && e.kind === "withdraw") delete hidden[ref];
      else throw new Error("entry " + seq + " undoes no earlier sign");
    } else if (e.kind === "hide") {
      if (!(ref in live)) throw new Error("entry " + seq + " hides nothing counted");
      hidden[ref] = live[ref]; delete live[ref];
    } else if (e.kind === "restore") {
      if (!(ref in hidden)) throw new Error("entry " + seq + " restores nothing hidden");
      live[ref] = Object.assign({}, hidden[ref], { level: e.level }); delete hidden[ref];
    } else if (e.kind === "relevel") {
      if (!(ref in live)) throw new Error("entry " + seq + " moves nothing counted");
      live[ref] = Object.assign({}, live[ref], { level: e.level });
    } else {
      throw new Error("entry " + seq + " has an unknown kind");
    }
  };
  Replay.prototype.counts = function () {
    var c = { verified: 0, public: 0, anonymous: 0, private: 0, employees: 0, cosigners: 0 };
    Object.values(this.live).forEach(function (e) {
      if (e.kind === "cosign") { c.cosigners++; return; }
      c.verified++;
      if (e.level in c) c[e.level]++;
      if (e.employee) c.employees++;
    });
    return c;
  };

  async function check() {
    var vkey = await L.get("/api/log/key", true);
    var signed = L.parseCheckpoint(await L.verifyNote(document.getElementById("checkpoint-note").textContent, vkey));
    if (!signed.origin.endsWith("/letters/" + slug)) throw new Error("the checkpoint is another letter's");
    if (signed.size !== shown("checkpoint-size")) throw new Error("the size shown is not the signed checkpoint's");
    if (L.hex(signed.root) !== document.getElementById("checkpoint-root").textContent.trim()) {
      throw new Error("the root hash shown is not the signed checkpoint's");
    }
    var tree = new L.TreeHasher(), replay = new Replay(), decoder = new TextDecoder();
    for (var start = 0; start < signed.size; start += PAGE) {
      var page = await L.get(log + "/entries?start=" + start + "&end=" + Math.min(signed.size, start + PAGE));
      if (!page.entries.length) throw new Error("the log served no entry at " + start);
      for (var i = 0; i < page.entries.length; i++) {
        var item = page.entries[i], data = L.b64(item.data);
        if (item.index !== start + i) throw new Error("the log's entries are out of order");
        await tree.add(await L.leaf(data));
        replay.add(item.index, JSON.parse(decoder.decode(data)));
      }
    }
    if (!L.same(await tree.root(), signed.root)) throw new Error("the log's entries do not hash to the signed root");
    var counts = replay.counts();
    document.querySelectorAll("[data-count]").forEach(function (el) {
      var name = el.dataset.count;
      if (shown(el.id || (el.id = "count-" + name)) !== counts[name]) {
        throw new Error("the page shows " + el.textContent.trim() + " " + name + " but the log replays to " + counts[name]);
      }
    });
    var head = L.parseCheckpoint(await L.verifyNote(await L.get(log + "/checkpoint", true), vkey));
    if (head.size < signed.size) throw new Error("the log shrank since the delivery");
    var proof = await L.get(log + "/consistency?from=" + signed.size + "&to=" + head.size);
    if (!(await L.verifyConsistency(signed.size, head.size, signed.root, head.root, proof.path.map(L.b64)))) {
      throw new Error("today's log does not extend the delivered checkpoint");
    }
    return text.ok + " (" + signed.size + " → " + head.size + ").";
  }

  button.addEventListener("click", function () {
    out.className = "";
    out.textContent = text.checking;
    check().then(function (message) {
      out.className = "ok";
      out.textContent = message;
    }).catch(function (error) {
      out.className = "error";
      out.textContent = text.failed + ": " + error.message + ".";
    });
  });
})();
