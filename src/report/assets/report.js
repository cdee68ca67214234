(function () {
  var select = document.getElementById('token-select');
  var panels = document.querySelectorAll('.panel');
  var chips = document.querySelectorAll('.chip.target');
  function show(key) {
    for (var i = 0; i < panels.length; ++i) panels[i].hidden = panels[i].getAttribute('data-key') !== key;
    for (var j = 0; j < chips.length; ++j) chips[j].classList.toggle('active', chips[j].getAttribute('data-key') === key);
    select.value = key;
  }
  select.addEventListener('change', function () { show(select.value); });
  // report.html#t3 opens on the fourth target: links into the page name a token
  var start = location.hash.slice(1).replace(/[^a-z0-9]/g, '');
  if (start && document.querySelector('.panel[data-key="' + start + '"]')) show(start);
  for (var j = 0; j < chips.length; ++j) {
    chips[j].addEventListener('click', function (ev) {
      var key = ev.currentTarget.getAttribute('data-key');
      show(select.value === key ? 'all' : key);
    });
  }
  document.addEventListener('keydown', function (ev) {
    // arrow keys step through the tokens when the page (not a form field) has the focus
    if (ev.target !== document.body || (ev.key !== 'ArrowRight' && ev.key !== 'ArrowLeft')) return;
    var n = select.options.length, i = select.selectedIndex + (ev.key === 'ArrowRight' ? 1 : -1);
    show(select.options[(i + n) % n].value);
  });
})();
