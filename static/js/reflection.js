/* The reflection editor: saves his draft a few seconds after he stops typing and as he leaves
   the page, keeps a copy on this device until the server has it, and counts words the way
   the server does. Without this script the page still works: "Save draft" posts the form. */
(function () {
  "use strict";

  var DELAY_MS = 3000; // after the last key press
  var RETRY_MS = 15000; // after a failed connection
  var WORD = wordPattern();

  var settings = document.getElementById("reflection");
  if (!settings || !window.JSON) return;
  var store = deviceStore(settings.dataset.storageKey);
  // What the page says, in his language: the template puts each sentence on the settings
  // element (data-msg-*), with {n} and {time} where the numbers go.
  var say = settings.dataset;

  var form = document.getElementById("reflection-form");
  if (!form) {
    // Sent or accepted: this answer can no longer change, so the copy has done its job.
    store.forget();
    return;
  }

  var textarea = form.elements.text;
  var revisionInput = form.elements.revision;
  var csrfInput = form.elements.csrf_token;
  var counter = document.getElementById("word-count");
  var status = document.getElementById("save-status");
  var problem = document.getElementById("save-problem");
  var notice = document.getElementById("restore-notice");
  var minWords = Number(form.dataset.minWords) || 0;
  var draftUrl = form.dataset.draftUrl;
  var pageUrl = form.dataset.pageUrl;

  // The text the server holds at the page's revision; null when the box holds text the
  // server refused to keep (a submit with too few words): that text is saved at once.
  var saved = form.dataset.saved === "1" ? textarea.value : null;
  var timer = null;
  var inFlight = null; // the save being sent: one at a time, each from the last revision
  var stopped = false; // after a conflict or a sign-out: more saves would only fail
  var leaving = false; // the form itself is being sent
  var waitingToSend = false;
  var beaconSent = false;

  // --- words ---------------------------------------------------------------------------

  // The same rule as WORD in services/reflections.py: runs of letters and digits, joined by
  // an apostrophe or a hyphen ("don't", "well-known").
  function wordPattern() {
    try {
      return new RegExp("[\\p{L}\\p{N}]+(?:['\u2019-][\\p{L}\\p{N}]+)*", "gu");
    } catch (e) {
      return /[A-Za-z0-9\u00C0-\u024F]+(?:['\u2019-][A-Za-z0-9\u00C0-\u024F]+)*/g;
    }
  }

  function countWords() {
    var n = (textarea.value.match(WORD) || []).length;
    // One and many, as English and Spanish count.
    counter.textContent =
      fill(n === 1 ? say.msgWord : say.msgWords, "{n}", n) + " " +
      (n >= minWords ? say.msgEnough : fill(say.msgAtLeast, "{n}", minWords));
  }

  function fill(message, placeholder, value) {
    return message.split(placeholder).join(String(value));
  }

  // --- the copy on this device -----------------------------------------------------------

  function deviceStore(key) {
    var storage = null;
    try {
      storage = window.localStorage;
    } catch (e) {
      storage = null; // private browsing or storage turned off: the server save still works
    }
    return {
      read: function () {
        try {
          var copy = JSON.parse(storage.getItem(key));
          return copy && typeof copy.text === "string" ? copy : null;
        } catch (e) {
          return null;
        }
      },
      keep: function (text, revision) {
        try {
          storage.setItem(key, JSON.stringify({ text: text, revision: revision, time: Date.now() }));
        } catch (e) {
          /* full or unavailable: nothing more can be done here */
        }
      },
      forget: function () {
        try {
          storage.removeItem(key);
        } catch (e) {
          /* unavailable */
        }
      },
    };
  }

  function revision() {
    return Number(revisionInput.value);
  }

  // --- saving -----------------------------------------------------------------------------

  function payload(text) {
    var data = new FormData();
    data.append("csrf_token", csrfInput ? csrfInput.value : "");
    data.append("revision", String(revision()));
    data.append("text", text);
    return data;
  }

  function schedule(delay) {
    window.clearTimeout(timer);
    timer = window.setTimeout(function () {
      save();
    }, delay === undefined ? DELAY_MS : delay);
  }

  function save(keepalive) {
    window.clearTimeout(timer);
    timer = null;
    if (inFlight) {
      return inFlight.then(function () {
        return save(keepalive);
      });
    }
    if (stopped || leaving || beaconSent || textarea.value === saved) return Promise.resolve();
    var text = textarea.value;
    var options = {
      method: "POST",
      body: payload(text),
      credentials: "same-origin",
      headers: { Accept: "application/json" },
      redirect: "manual", // a redirect here means the sign-in page: he was signed out
      // Lets the save finish if the page is closing; browsers cap such a request at 64 kB.
      keepalive: keepalive === true && new Blob([text]).size < 60000,
    };
    inFlight = window
      .fetch(draftUrl, options)
      .then(
        function (response) {
          return answered(response, text);
        },
        function () {
          showProblem(say.msgOffline);
          schedule(RETRY_MS);
        }
      )
      .then(settled, settled);
    return inFlight;
  }

  function settled() {
    inFlight = null;
  }

  function answered(response, text) {
    if (response.type === "opaqueredirect" || response.status === 401) return signedOut();
    return response.json().then(
      function (data) {
        if (response.ok) return kept(data, text);
        if (data.error === "signed_out") return signedOut();
        if (data.error === "invalid") return showProblem(data.message); // saved once he fixes it
        stop(data.message || say.msgOffline, data.error === "stale" ? say.msgReload : null);
      },
      function () {
        // Not JSON: an error page, such as "not allowed" once his session has ended.
        if (response.status === 400 || response.status === 403) return signedOut();
        showProblem(say.msgOffline);
        schedule(RETRY_MS);
      }
    );
  }

  function kept(data, text) {
    revisionInput.value = String(data.revision);
    saved = text;
    status.textContent = fill(say.msgSaved, "{time}", data.saved_at);
    hideProblem();
    if (textarea.value === text) {
      store.forget();
    } else {
      store.keep(textarea.value, data.revision); // what he typed meanwhile, on the new revision
      schedule();
    }
  }

  function signedOut() {
    stop(say.msgSignedOut, say.msgSignIn);
  }

  function stop(message, linkText) {
    stopped = true;
    window.clearTimeout(timer);
    store.keep(textarea.value, revision());
    status.textContent = say.msgNotSaved;
    showProblem(message, linkText);
  }

  function showProblem(message, linkText) {
    problem.textContent = message;
    if (linkText) {
      var link = document.createElement("a");
      link.href = pageUrl; // signed out, this page sends him to sign in and back here
      link.textContent = linkText;
      problem.appendChild(document.createTextNode(" "));
      problem.appendChild(link);
    }
    problem.hidden = false;
  }

  function hideProblem() {
    problem.hidden = true;
    problem.textContent = "";
  }

  // --- text from this device that the server does not have -------------------------------

  function restore() {
    var copy = store.read();
    if (!copy) return;
    if (copy.text === textarea.value) {
      if (saved !== null) store.forget();
      return;
    }
    var savedAt = Date.parse(form.dataset.savedAt) || 0;
    if (saved !== null && copy.revision === revision()) {
      // Written on top of the text the server has now: nothing newer is overwritten.
      textarea.value = copy.text;
      countWords();
      notice.textContent = say.msgRestored;
      notice.hidden = false;
      schedule(0);
    } else if (copy.time > savedAt) {
      offer(copy); // the answer was saved elsewhere meanwhile: he chooses
    } else {
      store.forget();
    }
  }

  function offer(copy) {
    var box = document.getElementById("device-copy");
    document.getElementById("device-copy-text").value = copy.text;
    box.hidden = false;
    document.getElementById("device-copy-use").addEventListener("click", function () {
      textarea.value = copy.text;
      box.hidden = true;
      countWords();
      store.keep(textarea.value, revision());
      schedule(0);
      textarea.focus();
    });
    document.getElementById("device-copy-drop").addEventListener("click", function () {
      box.hidden = true;
      store.forget();
    });
  }

  // --- events ---------------------------------------------------------------------------------

  textarea.addEventListener("input", function () {
    countWords();
    store.keep(textarea.value, revision());
    if (!stopped) schedule();
  });

  form.addEventListener("submit", function (event) {
    if (leaving || waitingToSend) {
      event.preventDefault(); // a second click: the first one is already on its way
      return;
    }
    if (inFlight) {
      // Send the form once the save on its way has returned the newest revision.
      event.preventDefault();
      waitingToSend = true;
      var submitter = event.submitter || null;
      inFlight.then(function () {
        waitingToSend = false;
        if (form.requestSubmit) {
          form.requestSubmit(submitter);
        } else {
          form.submit();
        }
      });
      return;
    }
    leaving = true;
    window.clearTimeout(timer);
    store.keep(textarea.value, revision());
    // Disabled only after the browser has read the form: a disabled button is not sent.
    window.setTimeout(function () {
      var buttons = form.querySelectorAll("[type=submit]");
      for (var i = 0; i < buttons.length; i++) buttons[i].disabled = true;
    }, 0);
  });

  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "hidden") save(true);
  });

  window.addEventListener("pagehide", function () {
    if (stopped || leaving || inFlight || beaconSent || textarea.value === saved) return;
    if (navigator.sendBeacon && navigator.sendBeacon(draftUrl, payload(textarea.value))) {
      beaconSent = true;
    }
  });

  window.addEventListener("pageshow", function (event) {
    // Back from the browser's page cache after a save it never heard the answer to, or after
    // the form was sent: load the page again so it shows what the server has.
    if (event.persisted && (beaconSent || leaving)) window.location.replace(pageUrl);
  });

  // Signing out from this page saves the draft first.
  var signout = document.querySelector("form.signout");
  if (signout) {
    signout.addEventListener("submit", function (event) {
      if (stopped || leaving || textarea.value === saved) return;
      event.preventDefault();
      save().then(function () {
        signout.submit();
      });
    });
  }

  countWords();
  restore();
  if (saved === null && !stopped) schedule(0); // text the server refused a moment ago
})();
