/* Customer.io In-App, direct mode (destinations/catalog/customerio_in_app.py): loads the in-app script
   from settings.scriptUrl, starts it with the site id and region, and identifies the visitor to it.
   Needs runtime.js before it. */
(function () {
  "use strict";
  var runtime = window.pipelinesPluginRuntime;

  window.pipelinesCustomerioInApp = function (settings) {
    function gist() {
      if (!window.Gist) throw new Error("the in-app script did not define window.Gist");
      return window.Gist;
    }

    return runtime.destination({
      name: "Customer.io In-App Plugin",
      settings: settings,
      load: function (ctx, analytics) {
        return runtime.loadScript(settings.scriptUrl).then(function () {
          gist().setup({siteId: settings.siteId, dataCenter: settings.region || "us", env: "prod"});
          // A visitor identified on an earlier page: the library remembers them, the in-app script does not.
          var userId = analytics && analytics.user && analytics.user().id();
          if (userId) gist().setUserToken(userId);
          // analytics.reset() (a logout) forgets the user: so does the in-app script.
          if (analytics && analytics.on) analytics.on("reset", function () { gist().clearUserToken(); });
        });
      },
      actions: {
        identify_user: function (p) { gist().setUserToken(p.user_id); },
        page_route: function (p) { gist().setCurrentRoute(p.route); }
      }
    });
  };
})();
