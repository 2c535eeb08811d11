/* The shared part of our direct-mode plugins (served in front of each plugin's own file, see
   destinations/browser.py): the trigger and mapping evaluators and the plugin shape analytics-next wants.

   The browser settings endpoint gives each plugin its enabled actions as
   {key, trigger: <tree>, mapping: <mapping>, required: [field, ...]}: the trigger compiled by the server
   (destinations/browser.py `trigger_tree`), the mapping as stored (destinations/mapping.py). Both are
   evaluated here with the server's semantics, so an action's Actions tab means the same in both modes.
   Plain ES2015 (no modules, no build step); defined once per page whatever the number of plugins. */
(function () {
  "use strict";
  if (window.pipelinesPluginRuntime) return;

  var has = Object.prototype.hasOwnProperty;
  var MISSING = {};  // a path that leads nowhere (triggers) / an undefined mapping value
  function isObject(v) { return v !== null && v !== MISSING && typeof v === "object" && !Array.isArray(v); }
  function isNumber(v) { return typeof v === "number" && isFinite(v); }

  /* --- trigger trees -------------------------------------------------------------------------------- */

  function lookup(root, path) {
    var value = root;
    for (var i = 0; i < path.length; i++) {
      var seg = path[i];
      if (typeof seg === "number") {
        if (Array.isArray(value) && seg >= -value.length && seg < value.length) {
          value = value[seg < 0 ? value.length + seg : seg];
        } else if (isObject(value) && has.call(value, String(seg))) {
          value = value[String(seg)];
        } else {
          return MISSING;
        }
      } else if (isObject(value) && has.call(value, seg)) {
        value = value[seg];
      } else if (Array.isArray(value) && /^\d+$/.test(seg) && Number(seg) < value.length) {
        value = value[Number(seg)];
      } else {
        return MISSING;
      }
    }
    return value === undefined ? MISSING : value;
  }

  function equal(actual, expected) {
    if (expected === null) return actual === MISSING || actual === null;
    if (typeof expected === "boolean") return actual === expected;
    if (isNumber(expected)) return isNumber(actual) && actual === expected;
    return typeof actual === "string" && actual === expected;
  }

  function ordered(actual, expected) {
    if (isNumber(expected)) return isNumber(actual);
    return typeof expected === "string" && typeof actual === "string";
  }

  function glob(pattern) {
    var parts = pattern.split("*").map(function (p) { return p.replace(/[.*+?^${}()|[\]\\\/-]/g, "\\$&"); });
    return new RegExp("^" + parts.join("[\\s\\S]*") + "$");
  }

  function condition(node, event) {
    var actual = lookup(event, node.path), value = node.value;
    switch (node.op) {
      case "=": return equal(actual, value);
      case "!=": return !equal(actual, value);
      case "<": return ordered(actual, value) && actual < value;
      case "<=": return ordered(actual, value) && actual <= value;
      case ">": return ordered(actual, value) && actual > value;
      case ">=": return ordered(actual, value) && actual >= value;
      case "exists": return actual !== MISSING && actual !== null;
      case "not exists": return actual === MISSING || actual === null;
      case "in": return value.some(function (v) { return equal(actual, v); });
      case "not in": return !value.some(function (v) { return equal(actual, v); });
      case "contains":
        if (typeof actual === "string") return typeof value === "string" && actual.indexOf(value) !== -1;
        if (Array.isArray(actual)) return actual.some(function (item) { return equal(item, value); });
        return false;
      case "starts_with": return typeof actual === "string" && actual.slice(0, value.length) === value;
      case "ends_with":
        return typeof actual === "string" && actual.length >= value.length &&
          actual.slice(actual.length - value.length) === value;
      case "match": return typeof actual === "string" && glob(value).test(actual);
      default: return false;  // an operator this runtime does not know never matches
    }
  }

  function matches(node, event) {
    if (!isObject(node)) return false;
    if (has.call(node, "or")) return node.or.some(function (n) { return matches(n, event); });
    if (has.call(node, "and")) return node.and.every(function (n) { return matches(n, event); });
    if (has.call(node, "not")) return !matches(node.not, event);
    return condition(node, event);
  }

  /* --- mappings ------------------------------------------------------------------------------------- */

  var SEGMENT = /\.([^.\[\]]+)|\[(-?\d+)\]|\[(['"])((?:\\.|(?!\3).)*)\3\]/y;

  function parsePath(text) {
    text = String(text).trim();
    if (text.charAt(0) === "$") text = text.slice(1);
    else if (text && text.charAt(0) !== "." && text.charAt(0) !== "[") text = "." + text;
    var segments = [];
    if (text === "" || text === ".") return segments;
    SEGMENT.lastIndex = 0;
    while (SEGMENT.lastIndex < text.length) {
      var m = SEGMENT.exec(text);
      if (!m) throw new Error("cannot read the path " + text);
      if (m[1] !== undefined) segments.push(m[1]);
      else if (m[2] !== undefined) segments.push(Number(m[2]));
      else segments.push(m[4].replace(/\\(.)/g, "$1"));
    }
    return segments;
  }

  function readPath(root, path) { return lookup(root, parsePath(path)); }

  function render(value) {
    if (value === MISSING || value === null) return "";
    if (typeof value === "object") return JSON.stringify(value);
    return String(value);
  }

  function flatten(value, prefix, sep, out) {
    var keys = isObject(value) || Array.isArray(value) ? Object.keys(value) : [];
    if (keys.length) {
      keys.forEach(function (k) { flatten(value[k], prefix ? prefix + sep + k : k, sep, out); });
    } else {
      out[prefix] = value;
    }
  }

  function escapeRegExp(text) { return text.replace(/[.*+?^${}()|[\]\\\/-]/g, "\\$&"); }

  var DIRECTIVES = {
    "@path": function (arg, root) { return readPath(root, arg); },
    "@if": function (arg, root) {
      var ok;
      if (has.call(arg, "exists")) {
        var v = resolve(arg.exists, root);
        ok = v !== MISSING && v !== null;
      } else {
        var b = resolve(arg.blank, root);
        ok = b === MISSING || b === null || b === "";
      }
      var branch = ok ? "then" : "else";
      return has.call(arg, branch) ? resolve(arg[branch], root) : MISSING;
    },
    "@template": function (arg, root) {
      return arg.replace(/\{\{\s*([^{}]*?)\s*\}\}/g, function (_, p) { return render(readPath(root, p)); });
    },
    "@literal": function (arg) { return arg; },
    "@arrayPath": function (arg, root) {
      var source = typeof arg[0] === "string" ? readPath(root, arg[0]) : resolve(arg[0], root);
      if (source === MISSING || source === null) return MISSING;
      var items = Array.isArray(source) ? source : [source];
      if (arg.length === 1) return items;
      return items.map(function (item) { return resolve(arg[1], item); })
        .filter(function (v) { return v !== MISSING; });
    },
    "@case": function (arg, root) {
      var v = resolve(arg.value, root);
      if (typeof v !== "string") return v;
      return arg.operator === "lower" ? v.toLowerCase() : v.toUpperCase();
    },
    "@replace": function (arg, root) {
      var v = resolve(arg.value, root);
      if (typeof v === "boolean" || isNumber(v)) v = String(v);
      if (typeof v !== "string") return v;
      var flags = (arg.global === false ? "" : "g") + (arg.ignorecase ? "i" : "");
      var replacement = arg.replacement || "";
      return v.replace(new RegExp(escapeRegExp(arg.pattern), flags), function () { return replacement; });
    },
    "@json": function (arg, root) {
      var v = resolve(arg.value, root);
      if (v === MISSING) return MISSING;
      if (arg.mode === "encode") return JSON.stringify(v);
      if (typeof v !== "string") return v;
      try { return JSON.parse(v); } catch (e) { return v; }
    },
    "@merge": function (arg, root) {
      var objects = arg.objects.map(function (m) { return resolve(m, root); }).filter(isObject);
      if (arg.direction === "left") objects.reverse();
      var out = {};
      objects.forEach(function (o) { Object.keys(o).forEach(function (k) { out[k] = o[k]; }); });
      return out;
    },
    "@flatten": function (arg, root) {
      var v = resolve(arg.value, root);
      if (!isObject(v) && !Array.isArray(v)) return v;
      var out = {};
      flatten(v, "", has.call(arg, "separator") ? arg.separator : ".", out);
      return out;
    },
    "@excludeWhenNull": function (arg, root) {
      var v = resolve(arg, root);
      if (v === null) return MISSING;
      if (isObject(v)) {
        var out = {};
        Object.keys(v).forEach(function (k) { if (v[k] !== null) out[k] = v[k]; });
        return out;
      }
      return v;
    }
  };

  function resolve(mapping, root) {
    if (Array.isArray(mapping)) {
      return mapping.map(function (m) { return resolve(m, root); }).filter(function (v) { return v !== MISSING; });
    }
    if (!isObject(mapping)) return mapping;
    var keys = Object.keys(mapping);
    if (keys.length === 1 && keys[0].charAt(0) === "@" && has.call(DIRECTIVES, keys[0])) {
      return DIRECTIVES[keys[0]](mapping[keys[0]], root);
    }
    var out = {};
    keys.forEach(function (k) {
      var v = resolve(mapping[k], root);
      if (v !== MISSING) out[k] = v;
    });
    return out;
  }

  /* The payload of one action, or null when a required field is empty (the server's PayloadError). */
  function payload(action, event) {
    var resolved = resolve(action.mapping || {}, event);
    var out = isObject(resolved) ? resolved : {};
    Object.keys(out).forEach(function (k) { if (out[k] === null) delete out[k]; });
    var missing = (action.required || []).some(function (k) { return !has.call(out, k) || out[k] === ""; });
    return missing ? null : out;
  }

  /* --- the plugin shape --------------------------------------------------------------------------- */

  function loadScript(src) {
    return new Promise(function (resolveLoad, rejectLoad) {
      var script = document.createElement("script");
      script.async = true;
      script.src = src;
      script.onload = function () { resolveLoad(); };
      script.onerror = function () { rejectLoad(new Error("could not load " + src)); };
      (document.head || document.documentElement).appendChild(script);
    });
  }

  /* A plugin for analytics-next's remote loader: every call runs the actions whose trigger matches,
     each through `spec.actions[action.key](payload, ctx)`. */
  function destination(spec) {
    var settings = spec.settings || {};
    var actions = settings.actions || [];
    var loaded = false;

    function run(ctx) {
      var event = ctx.event;
      actions.forEach(function (action) {
        var perform = spec.actions[action.key];
        if (!perform || !matches(action.trigger, event)) return;
        var data = payload(action, event);
        if (data === null) return;
        try {
          perform(data, ctx);
        } catch (e) {
          if (window.console && console.warn) console.warn(spec.name + ": action " + action.key + " failed", e);
        }
      });
      return ctx;
    }

    return {
      name: spec.name,
      type: "destination",
      version: "1.0.0",
      isLoaded: function () { return loaded; },
      load: function (ctx, analytics) {
        return Promise.resolve(spec.load(ctx, analytics)).then(function () { loaded = true; });
      },
      track: run, page: run, identify: run, group: run, alias: run, screen: run
    };
  }

  window.pipelinesPluginRuntime = {
    matches: matches, resolve: resolve, payload: payload, loadScript: loadScript, destination: destination
  };
})();
