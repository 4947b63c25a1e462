/*
 * Iamport sandbox SDK: a local stand-in for https://cdn.iamport.kr/v1/iamport.js.
 *
 * Provides window.IMP with IMP.init(merchantCode) and IMP.request_pay(param, callback), following
 * the v1 SDK's contract: the callback receives an `rsp` whose `error_code` is null on success and
 * set on failure (no `success` field). Nothing in `rsp` proves a payment; the shop must verify
 * through the REST API.
 *
 * - Refusals before any window opens (init not called, missing merchant_uid, non-numeric amount,
 *   missing pay_method, an amount that differs from the prepared one, a merchant_uid already paid)
 *   call the callback with imp_uid: null, error_code and error_msg.
 * - Desktop: an in-page overlay with an iframe (#sandbox-pay-frame) showing the sandbox's payment
 *   window; its page sends the rsp back with postMessage, the overlay is removed and the callback
 *   is called exactly once.
 * - Mobile (navigator.userAgent matches /Mobi|Android|iPhone|iPad/ and m_redirect_url is given):
 *   the whole page goes to the payment window, which afterwards goes to m_redirect_url with
 *   imp_uid, merchant_uid (and error_code, error_msg on failure) added to its query.
 *
 * Every sandbox URL is derived from this script's own src, so it works on any host and port.
 */
(function (window, document) {
  "use strict";

  if (window.IMP && window.IMP.sandbox === true) {
    return; // loaded twice: keep the first instance and its state
  }

  var MOBILE_USER_AGENT = /Mobi|Android|iPhone|iPad/;
  var MERCHANT_UID_MAX_LENGTH = 40;
  var MESSAGE_TYPE = "iamport-sandbox:rsp";
  var OVERLAY_ID = "sandbox-pay-overlay";
  var FRAME_ID = "sandbox-pay-frame";

  function ownScriptUrl() {
    var script = document.currentScript;
    if (!script) {
      var scripts = document.getElementsByTagName("script");
      for (var i = scripts.length - 1; i >= 0; i--) {
        if (/\/iamport\.js(\?|#|$)/.test(scripts[i].src)) {
          script = scripts[i];
          break;
        }
      }
    }
    return new URL(script ? script.src : "/sandbox/iamport/v1/iamport.js", window.location.href);
  }

  // .../sandbox/iamport/v1/iamport.js -> .../sandbox/iamport/
  var API_ROOT = new URL("../", ownScriptUrl());
  var SANDBOX_ORIGIN = API_ROOT.origin;
  var START_URL = new URL("sdk/start", API_ROOT).href;

  var merchantCode = null;
  var inProgress = false;

  function windowUrl(impUid) {
    var url = new URL("window/" + encodeURIComponent(impUid) + "/", API_ROOT);
    url.searchParams.set("parent_origin", window.location.origin);
    return url.href;
  }

  function refusal(param, errorCode, errorMsg) {
    var merchantUid = param && typeof param.merchant_uid === "string" ? param.merchant_uid : null;
    return {
      imp_uid: null,
      merchant_uid: merchantUid,
      pay_method: param && param.pay_method ? param.pay_method : null,
      paid_amount: 0,
      status: null,
      pg_provider: null,
      pg_tid: null,
      apply_num: null,
      receipt_url: null,
      vbank_num: null,
      vbank_name: null,
      vbank_holder: null,
      vbank_date: null,
      error_code: errorCode,
      error_msg: errorMsg
    };
  }

  function answer(callback, rsp) {
    if (typeof callback === "function") {
      callback(rsp);
    }
  }

  function answerLater(callback, rsp) {
    // The real SDK answers asynchronously even when it refuses at once.
    window.setTimeout(function () { answer(callback, rsp); }, 0);
  }

  function problemWith(param) {
    if (!merchantCode) {
      return ["NOT_INITIALIZED", "IMP.init(가맹점 식별코드)을 먼저 호출해야 합니다."];
    }
    if (!param || typeof param !== "object") {
      return ["INVALID_PARAMETER", "결제 요청 파라미터가 객체가 아닙니다."];
    }
    if (typeof param.merchant_uid !== "string" || !param.merchant_uid.trim()) {
      return ["INVALID_PARAMETER", "merchant_uid는 필수 항목입니다."];
    }
    if (param.merchant_uid.trim().length > MERCHANT_UID_MAX_LENGTH) {
      return ["INVALID_PARAMETER", "merchant_uid는 " + MERCHANT_UID_MAX_LENGTH + "자 이하여야 합니다."];
    }
    if (typeof param.amount !== "number" || !isFinite(param.amount)) {
      return ["INVALID_PARAMETER", "amount는 숫자여야 합니다. (받은 값: " + JSON.stringify(param.amount) + ")"];
    }
    if (param.amount <= 0) {
      return ["INVALID_PARAMETER", "amount는 0보다 커야 합니다."];
    }
    if (typeof param.pay_method !== "string" || !param.pay_method.trim()) {
      return ["INVALID_PARAMETER", "pay_method는 필수 항목입니다."];
    }
    return null;
  }

  function isMobile(param) {
    return MOBILE_USER_AGENT.test(window.navigator.userAgent || "") && !!param.m_redirect_url;
  }

  function start(param, channel) {
    return window.fetch(START_URL, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ merchant_code: merchantCode, channel: channel, param: param }),
      credentials: "omit"
    }).then(function (reply) {
      return reply.json();
    });
  }

  function openOverlay(started, callback) {
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
    frame.src = windowUrl(started.imp_uid);
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
      if (!data || data.type !== MESSAGE_TYPE || !data.rsp || data.rsp.imp_uid !== started.imp_uid) {
        return;
      }
      finish(data.rsp);
    }

    function finish(rsp) {
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
      answer(callback, rsp);
    }

    window.addEventListener("message", onMessage);
    document.body.style.overflow = "hidden";
    document.body.appendChild(overlay);
  }

  function request_pay(param, callback) {
    var problem = problemWith(param);
    if (problem) {
      answerLater(callback, refusal(param, problem[0], problem[1]));
      return;
    }
    if (inProgress) {
      answerLater(callback, refusal(param, "PAYMENT_IN_PROGRESS", "이미 결제가 진행 중입니다."));
      return;
    }
    inProgress = true;
    var mobile = isMobile(param);
    start(param, mobile ? "mobile" : "pc").then(function (envelope) {
      if (!envelope || envelope.code !== 0 || !envelope.response) {
        inProgress = false;
        var details = (envelope && envelope.response) || {};
        answer(callback, refusal(
          param,
          details.error_code || "F0000",
          details.error_msg || (envelope && envelope.message) || "결제를 시작하지 못했습니다."
        ));
        return;
      }
      if (mobile) {
        window.location.assign(windowUrl(envelope.response.imp_uid));
        return;
      }
      openOverlay(envelope.response, callback);
    }, function () {
      inProgress = false;
      answer(callback, refusal(param, "NETWORK_ERROR", "샌드박스 결제 서버에 연결하지 못했습니다."));
    });
  }

  function unsupported(name) {
    return function (param, callback) {
      answerLater(callback, refusal(param, "NOT_SUPPORTED", "샌드박스는 IMP." + name + "을(를) 지원하지 않습니다."));
    };
  }

  window.IMP = {
    sandbox: true,
    version: "sandbox-1",
    init: function (code) {
      merchantCode = typeof code === "string" && code ? code : null;
    },
    request_pay: request_pay,
    certification: unsupported("certification"),
    agency: function (code) { merchantCode = typeof code === "string" && code ? code : null; }
  };
})(window, document);
