/*
 * The sandbox payment window (page `window/<imp_uid>/`).
 *
 * Each button posts to its endpoint (approve, decline with the chosen PG error code, close),
 * which moves the payment and answers {rsp, redirect_url, notice, failed}. Then:
 * - mobile payment (redirect_url set): go to the shop's m_redirect_url (V2: redirectUrl);
 * - inside the SDK's iframe: hand the rsp to the shop's page with postMessage
 *   ({type: "iamport-sandbox:rsp", rsp}; for PortOne V2 {type: "portone-sandbox:result",
 *   rsp: the requestPayment result}), which closes the overlay;
 * - opened on its own: just show the outcome.
 */
(function (window, document) {
  "use strict";

  var root = document.getElementById("sandbox-window");
  if (!root) {
    return;
  }
  var MESSAGE_TYPE = root.getAttribute("data-message-type") || "iamport-sandbox:rsp";
  var statusLine = document.getElementById("sandbox-status");
  var buttons = Array.prototype.slice.call(root.querySelectorAll("button"));
  var parentOrigin = root.getAttribute("data-parent-origin") || "*";
  var delivered = false;

  function say(text, kind) {
    statusLine.textContent = text;
    statusLine.className = "sb-status" + (kind ? " is-" + kind : "");
  }

  function setBusy(busy) {
    buttons.forEach(function (button) { button.disabled = busy; });
  }

  function deliver(outcome) {
    if (delivered) {
      return;
    }
    delivered = true;
    var rsp = outcome.rsp;
    if (outcome.redirect_url) {
      window.location.replace(outcome.redirect_url);
      return;
    }
    if (window.parent && window.parent !== window) {
      window.parent.postMessage({ type: MESSAGE_TYPE, rsp: rsp }, parentOrigin);
    }
    if (outcome.notice) {
      say(outcome.notice, outcome.failed ? "error" : "success");
    } else if (rsp.error_code) {
      say("결제가 완료되지 않았습니다: " + rsp.error_msg, "error");
    } else if (rsp.status === "ready") {
      say("가상계좌가 발급되었습니다: " + rsp.vbank_name + " " + rsp.vbank_num, "success");
    } else {
      say("결제가 승인되었습니다.", "success");
    }
  }

  function post(url, body) {
    setBusy(true);
    say("처리 중입니다…");
    window.fetch(url, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body || {}),
      credentials: "same-origin"
    }).then(function (reply) {
      return reply.json();
    }).then(function (envelope) {
      if (envelope.response && envelope.response.rsp) {
        // 409 (already handled elsewhere) still carries the payment's current outcome.
        deliver(envelope.response);
        return;
      }
      setBusy(false);
      say(envelope.message || "처리하지 못했습니다.", "error");
    }, function () {
      setBusy(false);
      say("샌드박스 서버에 연결하지 못했습니다. 다시 시도해 주세요.", "error");
    });
  }

  function on(id, handler) {
    var element = document.getElementById(id);
    if (element) {
      element.addEventListener("click", handler);
    }
  }

  if (root.getAttribute("data-state") === "done") {
    var stored = document.getElementById("sandbox-outcome");
    var outcome = stored ? JSON.parse(stored.textContent) : null;
    var finish = function () { if (outcome) { deliver(outcome); } };
    on("sandbox-return", finish);
    on("sandbox-close", finish);
    return;
  }

  on("sandbox-approve", function () {
    post(root.getAttribute("data-approve-url"));
  });
  on("sandbox-decline", function () {
    var reason = document.getElementById("sandbox-decline-reason");
    post(root.getAttribute("data-decline-url"), { error_code: reason ? reason.value : null });
  });
  on("sandbox-close", function () {
    post(root.getAttribute("data-close-url"));
  });
})(window, document);
