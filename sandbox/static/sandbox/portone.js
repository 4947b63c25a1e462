/*
 * PortOne V2 sandbox SDK: a local stand-in for https://cdn.portone.io/v2/browser-sdk.js.
 *
 * Provides window.PortOne with PortOne.requestPayment(request), following the V2 SDK's
 * contract: it returns a Promise that RESOLVES (it never rejects for a payment's outcome) with
 * {transactionType: "PAYMENT", paymentId, txId}, plus code, message, pgCode and pgMessage when
 * the payment failed. A result without `code` is not proof of payment: the shop must fetch
 * the payment through the REST API.
 *
 * - Refusals before any window (a missing or bad field, an unknown storeId or channelKey, a
 *   paymentId already paid, an amount that differs from the pre-registered one) resolve with
 *   {transactionType, paymentId, code, message} and no txId.
 * - The window: the sandbox's one payment window (the same overlay, iframe and buttons as the
 *   V1 sandbox's), which sends the result back with postMessage; the overlay is removed and
 *   the promise resolves once.
 * - Redirect mode (a redirectUrl, and forceRedirect: true or a mobile user agent matching
 *   /Mobi|Android|iPhone|iPad/): the page goes to the window, which afterwards goes to
 *   redirectUrl with paymentId (and code, message, pgCode, pgMessage on failure) added to its
 *   query; the promise never resolves.
 *
 * Every sandbox URL is derived from this script's own src, so it works on any host and port.
 */
(function (window, document) {
  "use strict";

  if (window.PortOne && window.PortOne.sandbox === true) {
    return; // loaded twice: keep the first instance and its state
  }

  var MOBILE_USER_AGENT = /Mobi|Android|iPhone|iPad/;
  var MESSAGE_TYPE = "portone-sandbox:result";
  var OVERLAY_ID = "sandbox-pay-overlay";
  var FRAME_ID = "sandbox-pay-frame";

  function ownScriptUrl() {
    var script = document.currentScript;
    if (!script) {
      var scripts = document.getElementsByTagName("script");
      for (var i = scripts.length - 1; i >= 0; i--) {
        if (/\/browser-sdk\.js(\?|#|$)/.test(scripts[i].src)) {
          script = scripts[i];
          break;
        }
      }
    }
    return new URL(script ? script.src : "/sandbox/portone/v2/browser-sdk.js", window.location.href);
  }

  // .../sandbox/portone/v2/browser-sdk.js -> .../sandbox/portone/
  var API_ROOT = new URL("../", ownScriptUrl());
  var SANDBOX_ORIGIN = API_ROOT.origin;
  var START_URL = new URL("sdk/start", API_ROOT).href;

  var inProgress = false;

  function windowUrl(txId) {
    var url = new URL("window/" + encodeURIComponent(txId) + "/", API_ROOT);
    url.searchParams.set("parent_origin", window.location.origin);
    return url.href;
  }

  function refusal(request, code, message) {
    var result = { transactionType: "PAYMENT", code: code, message: message };
    if (request && typeof request === "object" && typeof request.paymentId === "string") {
      result.paymentId = request.paymentId;
    }
    return result;
  }

  function isMobile() {
    return MOBILE_USER_AGENT.test(window.navigator.userAgent || "");
  }

  function redirectMode(request) {
    return !!request.redirectUrl && (request.forceRedirect === true || isMobile());
  }

  function start(request, redirect) {
    var body = JSON.stringify({
      request: request,
      platform: isMobile() ? "MOBILE" : "PC",
      redirect: redirect
    });
    return window.fetch(START_URL, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: body,
      credentials: "omit"
    }).then(function (reply) {
      return reply.json().then(function (data) {
        return { ok: reply.ok, data: data || {} };
      });
    });
  }

  function openOverlay(started, resolve) {
    var overlay = document.createElement("div");
    overlay.id = OVERLAY_ID;
    overlay.setAttribute("role", "dialog");
    overlay.setAttribute("aria-modal", "true");
    overlay.setAttribute("aria-label", "결제창 (샌드박스)");
    overlay.style.cssText = [
      "position:fixed", "inset:0", "z-index:2147483647", "display:flex",
      "align-items:center", "justify-content:center", "background:rgba(15,23,42,.55)"
    ].join(";");

    var frame = document.createElement("iframe");
    frame.id = FRAME_ID;
    frame.name = FRAME_ID;
    frame.title = "결제창 (샌드박스)";
    frame.src = windowUrl(started.txId);
    frame.style.cssText = [
      "width:min(440px,calc(100vw - 24px))", "height:min(680px,calc(100vh - 24px))",
      "border:0", "border-radius:14px", "background:#fff",
      "box-shadow:0 20px 60px rgba(0,0,0,.35)"
    ].join(";");
    overlay.appendChild(frame);

    var previousOverflow = document.body.style.overflow;
    var finished = false;

    function onMessage(event) {
      if (event.source !== frame.contentWindow || event.origin !== SANDBOX_ORIGIN) {
        return;
      }
      var data = event.data;
      if (!data || data.type !== MESSAGE_TYPE || !data.rsp || data.rsp.txId !== started.txId) {
        return;
      }
      finish(data.rsp);
    }

    function finish(result) {
      if (finished) {
        return;
      }
      finished = true;
      window.removeEventListener("message", onMessage);
      if (overlay.parentNode) {
        overlay.parentNode.removeChild(overlay);
      }
      document.body.style.overflow = previousOverflow;
      inProgress = false;
      resolve(result);
    }

    window.addEventListener("message", onMessage);
    document.body.style.overflow = "hidden";
    document.body.appendChild(overlay);
  }

  function requestPayment(request) {
    return new Promise(function (resolve) {
      if (!request || typeof request !== "object" || Array.isArray(request)) {
        resolve(refusal(null, "INVALID_PARAMETER", "결제 요청이 객체가 아닙니다."));
        return;
      }
      if (inProgress) {
        resolve(refusal(request, "PAYMENT_IN_PROGRESS", "이미 결제가 진행 중입니다."));
        return;
      }
      var redirect = redirectMode(request);
      var pending;
      try {
        pending = start(request, redirect);
      } catch (error) {
        // JSON.stringify refuses what is not JSON (a cycle, a BigInt).
        resolve(refusal(request, "INVALID_PARAMETER", "결제 요청을 JSON으로 보낼 수 없습니다."));
        return;
      }
      inProgress = true;
      pending.then(function (reply) {
        var data = reply.data;
        if (!reply.ok || !data.txId) {
          inProgress = false;
          resolve(refusal(request, data.code || "PORTONE_ERROR", data.message || "결제를 시작하지 못했습니다."));
          return;
        }
        if (data.redirect) {
          window.location.assign(windowUrl(data.txId));
          return; // the page leaves: the promise never settles
        }
        openOverlay(data, resolve);
      }, function () {
        inProgress = false;
        resolve(refusal(request, "NETWORK_ERROR", "샌드박스 결제 서버에 연결하지 못했습니다."));
      });
    });
  }

  window.PortOne = {
    sandbox: true,
    version: "sandbox-2",
    requestPayment: requestPayment
  };
})(window, document);
