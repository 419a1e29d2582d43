// report.html's script: sortable columns, the filter box, details opened for printing.
// Without it the page reads the same, in expiry order. It reads text and moves rows,
// and never writes markup: certificate names reach the page as text only.
(function () {
  'use strict';
  // A certificate is a tbody: its row, then the row its details fold out in.
  var table = document.getElementById('certs');
  var rows = Array.prototype.slice.call(table.tBodies);
  rows.forEach(function (r, i) { r.setAttribute('data-pos', i); });

  function key(row, col) {
    var cell = row.rows[0].cells[col];
    var k = cell.getAttribute('data-sort');
    return k === null ? cell.textContent.trim() : k;
  }

  // A header button per sortable column; a second click reverses the order.
  Array.prototype.forEach.call(table.tHead.rows[0].cells, function (th, col) {
    if (!th.hasAttribute('data-sortable')) return;
    var button = document.createElement('button');
    button.type = 'button';
    while (th.firstChild) button.appendChild(th.firstChild);
    th.appendChild(button);
    button.addEventListener('click', function () {
      var dir = th.getAttribute('aria-sort') === 'ascending' ? -1 : 1;
      Array.prototype.forEach.call(table.querySelectorAll('th[aria-sort]'), function (o) {
        o.removeAttribute('aria-sort');
      });
      th.setAttribute('aria-sort', dir === 1 ? 'ascending' : 'descending');
      var sorted = Array.prototype.slice.call(table.tBodies).sort(function (a, b) {
        var x = key(a, col), y = key(b, col);
        var d = x !== '' && y !== '' && !isNaN(x) && !isNaN(y)
          ? Number(x) - Number(y)
          : x.localeCompare(y, undefined, { numeric: true, sensitivity: 'base' });
        return d * dir || a.getAttribute('data-pos') - b.getAttribute('data-pos');
      });
      sorted.forEach(function (r) { table.appendChild(r); });
    });
  });

  // The filter box: rows holding every word typed (in any column or the details).
  var tools = document.getElementById('tools');
  var box = document.getElementById('filter');
  var shown = document.getElementById('shown');
  function count() {
    var visible = rows.filter(function (r) { return r.getClientRects().length > 0; }).length;
    shown.textContent = visible + ' of ' + rows.length + ' certificates shown';
  }
  function filter() {
    var words = box.value.toLowerCase().split(/\s+/).filter(Boolean);
    rows.forEach(function (r) {
      var text = r.textContent.toLowerCase();
      r.hidden = !words.every(function (w) { return text.indexOf(w) >= 0; });
    });
    count();
  }
  tools.hidden = false;
  box.addEventListener('input', filter);
  window.addEventListener('hashchange', count);
  count();

  // Printing shows every detail; the reader's own choice comes back afterwards.
  var closed = [];
  window.addEventListener('beforeprint', function () {
    closed = Array.prototype.filter.call(document.querySelectorAll('details'), function (d) {
      return !d.open;
    });
    closed.forEach(function (d) { d.open = true; });
  });
  window.addEventListener('afterprint', function () {
    closed.forEach(function (d) { d.open = false; });
  });
}());
