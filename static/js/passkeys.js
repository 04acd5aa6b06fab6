/* Passkey buttons (WebAuthn). Each form[data-passkey] carries the server's options, with its
   challenge, as JSON in data-options; "register" makes a new passkey, "sign-in" uses one.
   On submit the browser is asked for the passkey, its answer goes into the hidden
   `credential` field as JSON (the shape of PublicKeyCredential.toJSON()), and the form is
   sent: the server checks it and answers with a page, as for any form. Without this script,
   or in a browser without passkeys, the passkey sections stay hidden and codes still work. */
(function () {
  "use strict";

  if (!window.PublicKeyCredential || !navigator.credentials || !window.JSON) return;

  function toBytes(base64url) {
    var base64 = base64url.replace(/-/g, "+").replace(/_/g, "/");
    while (base64.length % 4) base64 += "=";
    var binary = atob(base64);
    var bytes = new Uint8Array(binary.length);
    for (var i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
    return bytes.buffer;
  }

  function toBase64url(buffer) {
    var bytes = new Uint8Array(buffer);
    var binary = "";
    for (var i = 0; i < bytes.length; i++) binary += String.fromCharCode(bytes[i]);
    return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function descriptors(list) {
    return (list || []).map(function (item) {
      var descriptor = { type: item.type, id: toBytes(item.id) };
      if (item.transports) descriptor.transports = item.transports;
      return descriptor;
    });
  }

  // The server's JSON options, with the binary members as the browser wants them.
  function publicKeyOptions(mode, options) {
    options.challenge = toBytes(options.challenge);
    if (mode === "register") {
      options.user.id = toBytes(options.user.id);
      options.excludeCredentials = descriptors(options.excludeCredentials);
    } else {
      options.allowCredentials = descriptors(options.allowCredentials);
    }
    return options;
  }

  function answerOf(credential) {
    var response = credential.response;
    var answer = {
      id: credential.id,
      rawId: toBase64url(credential.rawId),
      type: credential.type,
      clientExtensionResults: credential.getClientExtensionResults(),
      response: { clientDataJSON: toBase64url(response.clientDataJSON) }
    };
    if (credential.authenticatorAttachment) {
      answer.authenticatorAttachment = credential.authenticatorAttachment;
    }
    if (response.attestationObject) {
      answer.response.attestationObject = toBase64url(response.attestationObject);
      if (response.getTransports) answer.response.transports = response.getTransports();
    } else {
      answer.response.authenticatorData = toBase64url(response.authenticatorData);
      answer.response.signature = toBase64url(response.signature);
      if (response.userHandle) answer.response.userHandle = toBase64url(response.userHandle);
    }
    return answer;
  }

  function prepare(form) {
    var mode = form.dataset.passkey;
    var status = form.querySelector(".passkey-status");
    var busy = false;

    function say(message) {
      status.textContent = message;
      status.hidden = !message;
    }

    form.addEventListener("submit", function (event) {
      event.preventDefault();
      if (busy) return;
      var name = form.elements.name;
      if (name && !name.value.trim()) {
        say(form.dataset.msgName);
        name.focus();
        return;
      }
      say("");
      busy = true;
      // Fresh options each time: the browser may change what it was given.
      var options = publicKeyOptions(mode, JSON.parse(form.dataset.options));
      var ask = mode === "register"
        ? navigator.credentials.create({ publicKey: options })
        : navigator.credentials.get({ publicKey: options });
      ask.then(function (credential) {
        form.elements.credential.value = JSON.stringify(answerOf(credential));
        form.submit(); // does not fire "submit" again
      }).catch(function () {
        busy = false;
        say(form.dataset.msgFailed);
      });
    });
  }

  var forms = document.querySelectorAll("form[data-passkey]");
  for (var i = 0; i < forms.length; i++) prepare(forms[i]);
  var sections = document.querySelectorAll("[data-passkey-section]");
  for (var j = 0; j < sections.length; j++) sections[j].hidden = false;
  var missing = document.querySelectorAll("[data-passkey-missing]");
  for (var k = 0; k < missing.length; k++) missing[k].hidden = true;
})();
