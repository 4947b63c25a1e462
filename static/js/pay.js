/*
 * The pay button on the order page (templates/payments/_pay_button.html).
 *
 * It opens the payment window with parameters the server rendered (Iamport's IMP.request_pay,
 * or PortOne V2's PortOne.requestPayment when data-api is "v2"), then tells the server which
 * payment to look at and shows the server's verdict. Nothing about money is decided here:
 * whether an order is paid is what the server answers after asking Iamport / PortOne.
 *
 * Every text it shows comes from the template (data-msg-* on #pay-box), translated there into
 * the page's language.
 */
(function () {
  "use strict";

  var MESSAGE_NAMES = [
    "busy",
    "noModule",
    "prepareFailed",
    "prepareNetwork",
    "cancelled",
    "verifyFailed",
    "verifyNetwork",
    "verifying",
    "reload",
  ];

  // data-msg-no-module -> messages.noModule, and so on.
  function messagesFrom(box) {
    var messages = {};
    MESSAGE_NAMES.forEach(function (name) {
      var key = "msg" + name.charAt(0).toUpperCase() + name.slice(1);
      messages[name] = box.dataset[key] || "";
    });
    return messages;
  }

  function onReady(fn) {
    if (document.readyState === "loading") {
      document.addEventListener("DOMContentLoaded", fn);
    } else {
      fn();
    }
  }

  function readCookie(name) {
    var parts = document.cookie ? document.cookie.split(";") : [];
    for (var i = 0; i < parts.length; i++) {
      var part = parts[i].trim();
      if (part.indexOf(name + "=") === 0) {
        return decodeURIComponent(part.slice(name.length + 1));
      }
    }
    return null;
  }

  function csrfToken(box) {
    var fromCookie = readCookie("csrftoken");
    if (fromCookie) {
      return fromCookie;
    }
    var input = box.querySelector("input[name=csrfmiddlewaretoken]");
    return input ? input.value : "";
  }

  // POST a JSON body; resolves to {ok, status, data} (data is {} when the reply is not JSON),
  // rejects only when the request did not get an answer at all.
  function postJSON(url, body, token) {
    return fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: {
        "Content-Type": "application/json",
        Accept: "application/json",
        "X-CSRFToken": token,
      },
      body: JSON.stringify(body),
    }).then(function (response) {
      return response
        .json()
        .catch(function () {
          return {};
        })
        .then(function (data) {
          return { ok: response.ok, status: response.status, data: data || {} };
        });
    });
  }

  onReady(function () {
    var box = document.getElementById("pay-box");
    var button = document.getElementById("pay-button");
    var messageBox = document.getElementById("pay-message");
    var paramsNode = document.getElementById("pay-params");
    if (!box || !button || !messageBox || !paramsNode) {
      return;
    }

    var MESSAGES = messagesFrom(box);
    var params = JSON.parse(paramsNode.textContent);
    var v2 = box.dataset.api === "v2";
    var merchantCode = box.dataset.merchantCode;
    var completeUrl = box.dataset.completeUrl;
    var prepareUrl = box.dataset.prepareUrl || null;
    var idleLabel = Array.prototype.slice.call(button.childNodes);
    var busy = false;

    function showMessage(text, kind) {
      messageBox.textContent = text;
      messageBox.className = "pay-message is-" + (kind || "error");
      messageBox.hidden = !text;
      if (text && messageBox.scrollIntoView) {
        messageBox.scrollIntoView({ block: "nearest", behavior: "smooth" });
      }
    }

    // The order moved on elsewhere (e.g. the webhook marked it paid): offer its current state.
    function offerReload() {
      var link = document.createElement("a");
      link.href = window.location.href;
      link.className = "pay-message-action";
      link.textContent = MESSAGES.reload;
      messageBox.appendChild(document.createTextNode(" "));
      messageBox.appendChild(link);
    }

    function setBusy(value) {
      busy = value;
      button.disabled = value;
      button.setAttribute("aria-busy", value ? "true" : "false");
      // Built as nodes: the busy text is a translation, never parsed as HTML.
      var nodes = idleLabel;
      if (value) {
        var spinner = document.createElement("span");
        spinner.className = "spinner";
        spinner.setAttribute("aria-hidden", "true");
        var label = document.createElement("span");
        label.textContent = MESSAGES.busy;
        nodes = [spinner, document.createTextNode(" "), label];
      }
      while (button.firstChild) {
        button.removeChild(button.firstChild);
      }
      nodes.forEach(function (node) {
        button.appendChild(node);
      });
    }

    function fail(text) {
      showMessage(text, "error");
      setBusy(false);
    }

    if (typeof (v2 ? window.PortOne : window.IMP) === "undefined") {
      showMessage(MESSAGES.noModule, "error");
      return;
    }
    button.disabled = false;

    function verify(rsp) {
      showMessage(MESSAGES.verifying, "info");
      // Always the order this page is for: V2 names it alone (paymentId), V1 with the attempt.
      var body = v2
        ? { paymentId: params.paymentId }
        : { imp_uid: rsp.imp_uid, merchant_uid: params.merchant_uid };
      postJSON(completeUrl, body, csrfToken(box)).then(
        function (reply) {
          var data = reply.data;
          if (reply.ok) {
            // Paid or awaiting deposit: the order page shows the new status (or the account).
            showMessage(data.message || "", "success");
            window.location.assign(data.redirect_url || window.location.href);
            return;
          }
          fail(data.message || MESSAGES.verifyFailed);
          if (data.status && data.status !== "pending") {
            // The order moved on (sold out meanwhile, paid by another attempt): this button
            // no longer applies; the page's current state is one reload away.
            button.disabled = true;
            offerReload();
          }
        },
        function () {
          fail(MESSAGES.verifyNetwork);
          offerReload();
        }
      );
    }

    // PortOne V2: a promise. A result with `code` is a failure (or the window closed), shown
    // as PortOne said it; any other result is only a claim, checked on the server. In redirect
    // mode (mobile) the page leaves for redirectUrl instead and the promise never settles.
    function openPortOneWindow() {
      var pending;
      try {
        pending = window.PortOne.requestPayment(params);
      } catch (error) {
        fail(MESSAGES.noModule);
        return;
      }
      Promise.resolve(pending).then(
        function (rsp) {
          rsp = rsp || {};
          if (rsp.code !== undefined && rsp.code !== null) {
            fail(rsp.pgMessage || rsp.message || MESSAGES.cancelled);
            return;
          }
          verify(rsp);
        },
        function () {
          fail(MESSAGES.noModule);
        }
      );
    }

    function openPaymentWindow() {
      if (v2) {
        openPortOneWindow();
        return;
      }
      try {
        window.IMP.init(merchantCode);
        window.IMP.request_pay(params, function (rsp) {
          rsp = rsp || {};
          if (rsp.imp_uid) {
            // Even a failed attempt has an imp_uid: the server records it and gives the verdict.
            verify(rsp);
            return;
          }
          fail(rsp.error_msg || MESSAGES.cancelled);
        });
      } catch (error) {
        fail(MESSAGES.noModule);
      }
    }

    button.addEventListener("click", function () {
      if (busy) {
        return;
      }
      setBusy(true);
      showMessage("", "info");
      if (!prepareUrl) {
        openPaymentWindow();
        return;
      }
      var merchantUid = v2 ? params.paymentId : params.merchant_uid;
      postJSON(prepareUrl, { merchant_uid: merchantUid }, csrfToken(box)).then(
        function (reply) {
          if (!reply.ok) {
            fail(reply.data.message || MESSAGES.prepareFailed);
            if (reply.status === 409) {
              offerReload();
            }
            return;
          }
          openPaymentWindow();
        },
        function () {
          fail(MESSAGES.prepareNetwork);
        }
      );
    });
  });
})();
