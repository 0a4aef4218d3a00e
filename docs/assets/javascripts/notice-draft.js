// /staff/notices/: fill the new-notice form with the notice carried over from the fill page
// (notices.js put it in sessionStorage). Only empty fields are filled; the draft is used once.
(function () {
  "use strict";
  var raw = null;
  try { raw = sessionStorage.getItem("kb-notice-draft"); } catch (e) { return; }
  if (!raw) return;
  var draft;
  try { draft = JSON.parse(raw); } catch (e) { draft = null; }
  if (!draft) return;
  var fields = { "kb-notice-title": draft.title, "kb-notice-body": draft.body, "kb-notice-template": draft.template,
    "kb-notice-valid-until": draft.valid_until };
  Object.keys(fields).forEach(function (id) {
    var node = document.getElementById(id);
    if (node && !node.value && typeof fields[id] === "string") node.value = fields[id];
  });
  // The community the notice was filled for (a community's account is offered only its own).
  var community = document.getElementById("kb-notice-community");
  if (community && draft.community && Array.prototype.some.call(community.options, function (o) { return o.value === draft.community; })) {
    community.value = draft.community;
  }
  try { sessionStorage.removeItem("kb-notice-draft"); } catch (e) { /* ignore */ }
  var title = document.getElementById("kb-notice-title");
  if (title) title.focus();
})();
