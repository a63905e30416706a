/* Passkeys (WebAuthn) in the browser: logging in and registering.
 *
 * Loaded as a file (the CSP allows no inline script). Each part of a page that uses passkeys
 * is an element with data-passkey="login" or data-passkey="register", carrying the URLs of
 * its two JSON endpoints, the session's CSRF token and its texts (in the page's language),
 * so nothing here is specific to one page or language. Without this script, or in a browser
 * without WebAuthn, those parts stay hidden (or say why) and the rest of the page works.
 *
 * Login offers two ways: conditional mediation (the browser lists passkeys in the autofill of
 * a field marked autocomplete="username webauthn") where the browser supports it, and a
 * button that opens the browser's passkey dialog.
 */
(function () {
  "use strict";

  // --- base64url <-> ArrayBuffer, the form the server's JSON uses for bytes ---------------

  function toBuffer(value) {
    var base64 = String(value).replace(/-/g, "+").replace(/_/g, "/");
    while (base64.length % 4) {
      base64 += "=";
    }
    var binary = window.atob(base64);
    var bytes = new Uint8Array(binary.length);
    for (var i = 0; i < binary.length; i += 1) {
      bytes[i] = binary.charCodeAt(i);
    }
    return bytes.buffer;
  }

  function toBase64url(buffer) {
    var bytes = new Uint8Array(buffer);
    var binary = "";
    for (var i = 0; i < bytes.length; i += 1) {
      binary += String.fromCharCode(bytes[i]);
    }
    return window.btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function descriptor(d) {
    var out = { type: d.type, id: toBuffer(d.id) };
    if (d.transports && d.transports.length) {
      out.transports = d.transports;
    }
    return out;
  }

  function creationOptions(json) {
    var options = Object.assign({}, json);
    options.challenge = toBuffer(json.challenge);
    options.user = Object.assign({}, json.user, { id: toBuffer(json.user.id) });
    options.excludeCredentials = (json.excludeCredentials || []).map(descriptor);
    return options;
  }

  function requestOptions(json) {
    var options = Object.assign({}, json);
    options.challenge = toBuffer(json.challenge);
    options.allowCredentials = (json.allowCredentials || []).map(descriptor);
    return options;
  }

  function registrationJSON(credential) {
    var r = credential.response;
    return {
      id: credential.id,
      rawId: toBase64url(credential.rawId),
      type: credential.type,
      authenticatorAttachment: credential.authenticatorAttachment || null,
      clientExtensionResults: {},
      response: {
        clientDataJSON: toBase64url(r.clientDataJSON),
        attestationObject: toBase64url(r.attestationObject),
        transports: typeof r.getTransports === "function" ? r.getTransports() : []
      }
    };
  }

  function assertionJSON(credential) {
    var r = credential.response;
    return {
      id: credential.id,
      rawId: toBase64url(credential.rawId),
      type: credential.type,
      authenticatorAttachment: credential.authenticatorAttachment || null,
      clientExtensionResults: {},
      response: {
        clientDataJSON: toBase64url(r.clientDataJSON),
        authenticatorData: toBase64url(r.authenticatorData),
        signature: toBase64url(r.signature),
        userHandle: r.userHandle ? toBase64url(r.userHandle) : null
      }
    };
  }

  // --- talking to the server ----------------------------------------------------------------

  function ServerError(message) {
    this.name = "ServerError";
    this.message = message || "";
  }

  async function post(url, csrf, body) {
    var response = await window.fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: {
        "Content-Type": "application/json",
        "Accept": "application/json",
        "X-CSRF-Token": csrf
      },
      body: JSON.stringify(body || {})
    });
    var data = {};
    try {
      data = await response.json();
    } catch (ignored) {
      data = {};
    }
    if (!response.ok) {
      throw new ServerError(data.message || data.error_description || "");
    }
    return data;
  }

  function supported() {
    return Boolean(window.PublicKeyCredential && navigator.credentials &&
      typeof navigator.credentials.get === "function" && window.fetch);
  }

  async function conditionalAvailable() {
    var pkc = window.PublicKeyCredential;
    if (!pkc || typeof pkc.isConditionalMediationAvailable !== "function") {
      return false;
    }
    try {
      return Boolean(await pkc.isConditionalMediationAvailable());
    } catch (ignored) {
      return false;
    }
  }

  // --- one part of a page -------------------------------------------------------------------

  function Part(element) {
    this.element = element;
    this.data = element.dataset;
    this.status = element.querySelector("[data-passkey-status]");
    this.button = element.querySelector("[data-passkey-start]");
  }

  Part.prototype.say = function (text, isError) {
    if (!this.status) {
      return;
    }
    this.status.textContent = text || "";
    this.status.classList.toggle("form-error", Boolean(isError));
  };

  Part.prototype.explain = function (error) {
    // What went wrong, in words for the person; the server's own message when it sent one.
    if (error instanceof ServerError) {
      return error.message || this.data.msgFailed;
    }
    if (error && error.name === "NotAllowedError") {
      return this.data.msgCancelled;
    }
    if (error && error.name === "InvalidStateError") {
      return this.data.msgExists || this.data.msgFailed;
    }
    if (error && error.name === "TypeError") {
      return this.data.msgNetwork;
    }
    return this.data.msgFailed;
  };

  Part.prototype.show = function (selector) {
    var found = this.element.querySelectorAll(selector);
    for (var i = 0; i < found.length; i += 1) {
      found[i].hidden = false;
    }
  };

  Part.prototype.busy = function (on) {
    if (this.button) {
      this.button.disabled = on;
      this.button.setAttribute("aria-busy", on ? "true" : "false");
    }
  };

  // --- logging in ---------------------------------------------------------------------------

  function setUpLogin(part) {
    var waiting = null; // the AbortController of the pending conditional request

    async function attempt(mediation) {
      var controller = new window.AbortController();
      if (mediation) {
        waiting = controller;
      }
      var options = await post(part.data.optionsUrl, part.data.csrf, {});
      if (controller.signal.aborted) {
        var aborted = new Error("aborted");
        aborted.name = "AbortError";
        throw aborted;
      }
      var request = { publicKey: requestOptions(options.publicKey), signal: controller.signal };
      if (mediation) {
        request.mediation = mediation;
      }
      var credential = await navigator.credentials.get(request);
      if (mediation) {
        waiting = null;
      }
      if (!credential) {
        throw new ServerError(part.data.msgCancelled);
      }
      part.busy(true);
      part.say(part.data.msgWorking, false);
      var result = await post(part.data.verifyUrl, part.data.csrf,
        { credential: assertionJSON(credential) });
      window.location.assign(result.redirect);
    }

    async function autofill() {
      // Quietly waits for the person to pick a passkey from the field's suggestions; when
      // the button is used instead, this request is aborted (an AbortError, not a failure).
      try {
        await attempt("conditional");
      } catch (error) {
        waiting = null;
        if (error && error.name === "AbortError") {
          return;
        }
        part.busy(false);
        part.say(part.explain(error), true);
      }
    }

    async function dialog() {
      if (waiting) {
        waiting.abort();
        waiting = null;
      }
      part.busy(true);
      part.say(part.data.msgWaiting, false);
      try {
        await attempt(null);
      } catch (error) {
        part.busy(false);
        part.say(part.explain(error), true);
        if (part.conditional) {
          autofill();
        }
      }
    }

    if (part.button) {
      part.button.addEventListener("click", dialog);
    }
    part.show("[data-passkey-ready]");
    conditionalAvailable().then(function (available) {
      part.conditional = available;
      if (available) {
        part.show("[data-passkey-autofill]");
        autofill();
      }
    });
  }

  // --- registering --------------------------------------------------------------------------

  function setUpRegister(part) {
    var nameField = part.element.querySelector("[data-passkey-name]");

    async function register() {
      part.busy(true);
      part.say(part.data.msgWaiting, false);
      try {
        var options = await post(part.data.optionsUrl, part.data.csrf, {});
        var credential = await navigator.credentials.create(
          { publicKey: creationOptions(options.publicKey) });
        if (!credential) {
          throw new ServerError(part.data.msgCancelled);
        }
        part.say(part.data.msgWorking, false);
        var body = { credential: registrationJSON(credential) };
        if (nameField && nameField.value.trim()) {
          body.name = nameField.value.trim();
        }
        var result = await post(part.data.verifyUrl, part.data.csrf, body);
        part.say(part.data.msgDone, false);
        window.location.assign(result.redirect);
      } catch (error) {
        part.busy(false);
        part.say(part.explain(error), true);
      }
    }

    if (part.button) {
      part.button.addEventListener("click", register);
    }
    part.show("[data-passkey-ready]");
  }

  // --- start --------------------------------------------------------------------------------

  function start() {
    var parts = document.querySelectorAll("[data-passkey]");
    for (var i = 0; i < parts.length; i += 1) {
      var part = new Part(parts[i]);
      if (!supported()) {
        part.show("[data-passkey-unsupported]");
        continue;
      }
      if (part.data.passkey === "login") {
        setUpLogin(part);
      } else if (part.data.passkey === "register") {
        setUpRegister(part);
      }
    }
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
}());
