// The map of a form's submissions (admin/map.html). Leaflet and Leaflet.markercluster are vendored in
// static/vendor; points come from the page's own GeoJSON endpoint; the base layer is the configured
// tile server, or else the country outlines Ruta ships, so the map works with no internet at all.
(function () {
  "use strict";

  function getJSON(url, done, fail) {
    var xhr = new XMLHttpRequest();
    xhr.open("GET", url);
    xhr.setRequestHeader("Accept", "application/geo+json, application/json");
    xhr.onload = function () {
      if (xhr.status === 200) { done(JSON.parse(xhr.responseText)); } else { fail(); }
    };
    xhr.onerror = fail;
    xhr.send();
  }

  function sitePopup(props, el, labels) {
    // A registry site (sites_map.html): name, code, type, capacity and status; a link to edit it for
    // those who may. Text only, as for submissions.
    var box = document.createElement("div");
    var title = document.createElement("strong");
    title.textContent = props.name;
    box.appendChild(title);
    var meta = document.createElement("div");
    var parts = [props.code, labels[props.site_type] || props.site_type, props.status];
    if (props.capacity) { parts.push(el.dataset.textCapacity.replace("{n}", props.capacity)); }
    meta.textContent = parts.join(" · ");
    box.appendChild(meta);
    if (el.dataset.siteUrl) {
      var link = document.createElement("a");
      link.href = el.dataset.siteUrl + encodeURIComponent(props.code);
      link.textContent = el.dataset.textOpen;
      box.appendChild(link);
    }
    return box;
  }

  function popup(props, el, labels) {
    // Built from DOM nodes with textContent: a submission's name never becomes markup.
    var box = document.createElement("div");
    var title = document.createElement("strong");
    title.textContent = props.name;
    box.appendChild(title);
    var meta = document.createElement("div");
    meta.textContent = props.received + " · " + (labels[props.state] || props.state);
    box.appendChild(meta);
    var link = document.createElement("a");
    link.href = el.dataset.submissionUrl.replace(/\/0$/, "/" + props.id);
    link.textContent = el.dataset.textOpen;
    box.appendChild(link);
    return box;
  }

  function ready() {
    var el = document.getElementById("submissions-map");
    if (!el || typeof L === "undefined") { return; }
    var summary = document.getElementById("map-summary");
    var labels = JSON.parse(el.dataset.stateLabels || "{}");
    // The cluster plugin needs a maxZoom, which a map without a tile layer does not otherwise have.
    var map = L.map(el, { preferCanvas: true, worldCopyJump: true, maxZoom: 18 });
    map.setView([0, -70], 3);
    if (el.dataset.tiles) {
      L.tileLayer(el.dataset.tiles, { maxZoom: 19, attribution: el.dataset.attribution }).addTo(map);
    } else {
      map.attributionControl.addAttribution(el.dataset.textOffline);
      getJSON(el.dataset.outlines, function (outlines) {
        L.geoJSON(outlines, {
          style: { color: "#6b7a8f", weight: 1, fillColor: "#e9eef3", fillOpacity: 1 },
          interactive: false
        }).addTo(map).bringToBack();
      }, function () { /* the points still show without the outlines */ });
    }
    getJSON(el.dataset.points, function (data) {
      var cluster = L.markerClusterGroup({ chunkedLoading: true, showCoverageOnHover: false });
      var markers = data.features.map(function (f) {
        var c = f.geometry.coordinates;
        var sites = el.dataset.kind === "sites";
        var marker = L.marker([c[1], c[0]], {
          icon: L.divIcon({
            className: "map-point " + (sites ? "site-" + f.properties.status : "state-" + f.properties.state),
            iconSize: [12, 12]
          })
        });
        marker.bindPopup(function () {
          return sites ? sitePopup(f.properties, el, labels) : popup(f.properties, el, labels);
        });
        return marker;
      });
      cluster.addLayers(markers);
      map.addLayer(cluster);
      if (markers.length) { map.fitBounds(cluster.getBounds(), { maxZoom: 12, padding: [20, 20] }); }
      var parts = [el.dataset.textPoints.replace("{n}", data.features.length)];
      if (data.withoutLocation) { parts.push(el.dataset.textWithout.replace("{n}", data.withoutLocation)); }
      if (data.truncated && el.dataset.textTruncated) { parts.push(el.dataset.textTruncated); }
      summary.textContent = parts.join(" · ");
      el.dataset.loaded = String(data.features.length);
    }, function () { summary.textContent = el.dataset.textError; });
  }

  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", ready); }
  else { ready(); }
})();
