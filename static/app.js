// twofold's only script. Every page works without it; it adds what cannot
// work without JavaScript, so those controls stay hidden until it runs.
"use strict";

// The Print button on the backup-codes page: shown only when it can work.
document.addEventListener("DOMContentLoaded", function () {
  document.querySelectorAll("[data-print]").forEach(function (button) {
    button.hidden = false;
    button.addEventListener("click", function () {
      window.print();
    });
  });
});
