// Fee calculator on the 收费公示 page. Amounts are computed in cents (integers) so that
// 89.5 × 2.20 × 12 comes out exact; prices come from the form, which is built from the community's file (snippets/communities/).
(function () {
  function cents(text) {
    var m = /^(\d+)(?:\.(\d{1,2}))?$/.exec(String(text).trim());
    if (!m) return NaN;
    return parseInt(m[1], 10) * 100 + parseInt(((m[2] || "") + "00").slice(0, 2), 10);
  }
  function yuan(c) {
    var s = String(Math.round(c));
    while (s.length < 3) s = "0" + s;
    var whole = s.slice(0, -2).replace(/\B(?=(\d{3})+(?!\d))/g, ",");
    return whole + "." + s.slice(-2);
  }
  // What people type for an area: "89.5", "89,5" (a comma for the decimal point, as on many
  // phone keypads), full-width digits, "89.5平方米". A comma before three digits ("1,234") is
  // ambiguous: the answer says so instead of guessing.
  function areaText(text) {
    var t = String(text).trim()
      .replace(/[０-９]/g, function (d) { return String.fromCharCode(d.charCodeAt(0) - 0xFEE0); })
      .replace(/[，]/g, ",").replace(/[．。]/g, ".")
      .replace(/\s*(平方米|平米|㎡|平)$/, "");
    if (/^\d+,\d{1,2}$/.test(t)) return t.replace(",", ".");
    return t;
  }
  function compute(form) {
    var typed = areaText(form.area.value);
    var area = cents(typed);                      // area in hundredths of a square metre
    var months = parseInt(form.months.value, 10);
    var spaces = parseInt(form.spaces.value || "0", 10);
    if (typed === "") return "请填写计费面积（房产证或合同上的建筑面积），例如 89.50";
    if (typed.indexOf(",") >= 0) return "面积里的逗号看不懂：小数点请写“.”或“,”后面跟一两位，例如 89.5 或 89,5";
    if (isNaN(area) || area <= 0) return "计费面积请写数字，最多两位小数，例如 89.50";
    if (!(months >= 1 && months <= 120)) return "月数请填 1 到 120 之间的整数";
    if (!(spaces >= 0 && spaces <= 20)) return "车位个数请填 0 到 20 之间的整数";
    var property = Math.round(area * cents(form.item.value) / 100) * months;
    var parking = cents(form.parking.value) * spaces * months;
    return "物业服务费 " + yuan(property) + " 元 + 车位管理费 " + yuan(parking) + " 元 = 合计 " +
      yuan(property + parking) + " 元（" + months + " 个月）";
  }
  function bind() {
    var form = document.getElementById("kb-fee-calculator");
    if (!form || form.dataset.bound) return;
    form.dataset.bound = "1";
    // "没有车位" means no spaces: the count shows 0 and cannot be changed; choosing a space type
    // after that starts the count at 1.
    var syncSpaces = function () {
      var none = cents(form.parking.value) === 0;
      if (none) form.spaces.value = "0";
      else if (form.spaces.value === "0" || form.spaces.value === "") form.spaces.value = "1";
      form.spaces.disabled = none;
    };
    var update = function (event) {
      if (!event || event.target === form.parking) syncSpaces();
      form.result.value = compute(form);
    };
    form.addEventListener("submit", function (event) { event.preventDefault(); update(); });
    form.addEventListener("input", update);
    form.addEventListener("change", update);
    update();
  }
  KB.onPage(bind);
})();
