// The Accounts tab's filter box. Loaded as a file (the CSP allows no inline script); without
// JavaScript the box stays hidden and every account is listed.
'use strict';

document.addEventListener('DOMContentLoaded', () => {
  const row = document.getElementById('account-filter-row');
  const input = document.getElementById('account-filter');
  const none = document.getElementById('account-filter-none');
  const accounts = Array.from(document.querySelectorAll('details.account[data-filter]'));
  if (!row || !input || accounts.length === 0) return;
  row.hidden = false;

  const apply = () => {
    const words = input.value.toLowerCase().split(/\s+/).filter((w) => w.length > 0);
    let shown = 0;
    for (const a of accounts) {
      const text = a.dataset.filter || '';
      const match = words.every((w) => text.includes(w));
      a.hidden = !match;
      if (match) shown += 1;
    }
    if (none) none.hidden = shown > 0;
  };
  input.addEventListener('input', apply);
  apply();
});
