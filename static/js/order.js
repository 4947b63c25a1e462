/*
 * The order page of a virtual account awaiting its deposit (templates/shop/order_detail.html).
 *
 * - "Copy" puts the account's digits (data-account, exactly as the bank issued them, without
 *   the separators drawn for reading) on the clipboard.
 * - In the buyer's own browser (the section carries data-status-url), the order's status is
 *   polled so that the deposit shows without a reload: every 10 s at first, less often as
 *   time goes by, not at all while the tab is hidden, and for 30 minutes from the last time
 *   the buyer looked at the tab. When the status changes the page is loaded again, so that
 *   everything on it is the server's.
 *
 * Texts come from the template (data-msg-*), translated there; nothing here decides anything.
 */
(function () {
  "use strict";

  var FIRST_DELAY_MS = 10 * 1000;
  var LONGEST_DELAY_MS = 60 * 1000;
  var LONGEST_DELAY_AFTER_ERROR_MS = 2 * 60 * 1000;
  var WATCH_FOR_MS = 30 * 60 * 1000;

  function onReady(fn) {
    if (document.readyState === "loading") {
      document.addEventListener("DOMContentLoaded", fn);
    } else {
      fn();
    }
  }

  // --- copy ----------------------------------------------------------------------------
  function copyWithSelection(text) {
    var area = document.createElement("textarea");
    area.value = text;
    area.setAttribute("readonly", "");
    area.style.position = "fixed";
    area.style.top = "0";
    area.style.opacity = "0";
    document.body.appendChild(area);
    area.select();
    var copied = false;
    try {
      copied = document.execCommand("copy");
    } catch (error) {
      copied = false;
    }
    document.body.removeChild(area);
    return copied;
  }

  // Resolves when the text is on the clipboard, rejects when neither way worked.
  function copyText(text) {
    if (navigator.clipboard && window.isSecureContext) {
      return navigator.clipboard.writeText(text).catch(function () {
        return copyWithSelection(text) ? undefined : Promise.reject(new Error("copy"));
      });
    }
    return copyWithSelection(text) ? Promise.resolve() : Promise.reject(new Error("copy"));
  }

  function selectContents(node) {
    var selection = window.getSelection && window.getSelection();
    if (!selection) {
      return;
    }
    var range = document.createRange();
    range.selectNodeContents(node);
    selection.removeAllRanges();
    selection.addRange(range);
  }

  function setUpCopy() {
    var button = document.getElementById("copy-account");
    if (!button) {
      return;
    }
    var target = document.getElementById(button.dataset.copyTarget);
    var message = document.getElementById("copy-account-message");
    if (!target || !target.dataset.account) {
      return;
    }
    button.hidden = false;
    button.addEventListener("click", function () {
      copyText(target.dataset.account).then(
        function () {
          if (message) {
            message.textContent = button.dataset.msgCopied || "";
          }
        },
        function () {
          // Selected, so that a long press or Ctrl+C is all that is left to do.
          selectContents(target);
          if (message) {
            message.textContent = button.dataset.msgFailed || "";
          }
        }
      );
    });
  }

  // --- status poll ---------------------------------------------------------------------
  function setUpStatusWatch() {
    var box = document.getElementById("deposit-account");
    if (!box || !box.dataset.statusUrl || !window.fetch) {
      return;
    }
    var url = box.dataset.statusUrl;
    var shown = { status: box.dataset.status, changed: box.dataset.changed };
    var notice = document.getElementById("deposit-watch");
    var delay = FIRST_DELAY_MS;
    var watchUntil = Date.now() + WATCH_FOR_MS;
    var timer = null;
    var inFlight = false;
    var finished = false;

    function schedule(ms) {
      window.clearTimeout(timer);
      timer = null;
      if (finished || document.hidden || Date.now() > watchUntil) {
        return;
      }
      timer = window.setTimeout(check, ms);
    }

    function reloadForChange() {
      finished = true;
      if (notice) {
        notice.textContent = box.dataset.msgChanged || "";
      }
      window.location.reload();
    }

    function check() {
      timer = null;
      if (inFlight || finished) {
        return;
      }
      inFlight = true;
      fetch(url, {
        credentials: "same-origin",
        cache: "no-store",
        headers: { Accept: "application/json" },
      })
        .then(function (response) {
          if (response.status === 404 || response.status === 403) {
            finished = true; // not ours to watch (any more): nothing will change that
            return null;
          }
          if (!response.ok) {
            throw new Error("HTTP " + response.status);
          }
          return response.json();
        })
        .then(
          function (data) {
            inFlight = false;
            if (!data) {
              return;
            }
            if (data.status !== shown.status || data.changed !== shown.changed) {
              reloadForChange();
              return;
            }
            delay = Math.min(Math.round(delay * 1.25), LONGEST_DELAY_MS);
            schedule(delay);
          },
          function () {
            // The network or the server is struggling: ask much less often.
            inFlight = false;
            delay = Math.min(delay * 2, LONGEST_DELAY_AFTER_ERROR_MS);
            schedule(delay);
          }
        );
    }

    document.addEventListener("visibilitychange", function () {
      if (document.hidden) {
        window.clearTimeout(timer);
        timer = null;
        return;
      }
      // Back from the banking app, say: look now, then keep watching a while longer.
      watchUntil = Date.now() + WATCH_FOR_MS;
      delay = FIRST_DELAY_MS;
      check();
    });

    schedule(delay);
  }

  onReady(function () {
    setUpCopy();
    setUpStatusWatch();
  });
})();
