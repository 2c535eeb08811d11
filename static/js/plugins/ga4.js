/* Google Analytics 4 Web, direct mode (destinations/catalog/ga4.py): loads Google's gtag.js from
   settings.scriptUrl and turns the destination's actions into gtag calls. Needs runtime.js before it. */
(function () {
  "use strict";
  var runtime = window.pipelinesPluginRuntime;

  window.pipelinesGa4Web = function (settings) {
    var ids = settings.measurementIds || [settings.measurementId];
    function gtag() { window.dataLayer.push(arguments); }

    return runtime.destination({
      name: "Google Analytics 4 Web",
      settings: settings,
      load: function () {
        window.dataLayer = window.dataLayer || [];
        window.gtag = window.gtag || gtag;
        gtag("js", new Date());
        // Page views are sent by the Page View action (our page calls), never by gtag on its own.
        var config = {
          send_page_view: false,
          cookie_domain: settings.cookieDomain || "auto",
          allow_google_signals: !!settings.allowGoogleSignals,
          allow_ad_personalization_signals: !!settings.allowAdPersonalizationSignals
        };
        if (settings.cookieExpirationInSeconds != null) config.cookie_expires = settings.cookieExpirationInSeconds;
        ids.forEach(function (id) { gtag("config", id, config); });
        return runtime.loadScript(settings.scriptUrl + "?id=" + encodeURIComponent(ids[0]));
      },
      actions: {
        page_view: function (p) {
          if (settings.pageView === false) return;
          gtag("event", "page_view", Object.assign({}, p, {send_to: ids}));
        },
        custom_event: function (p) {
          gtag("event", p.name, Object.assign({}, p.params || {}, {send_to: ids}));
        },
        set_user_properties: function (p) {
          if (p.user_id) gtag("set", {user_id: p.user_id});
          if (p.user_properties) gtag("set", "user_properties", p.user_properties);
        }
      }
    });
  };
})();
