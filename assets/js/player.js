// The lesson player's client side (served at /js/player.js; no user data in it). Installed once
// per tab: the lesson page's on_load (PlayerState.load_player) runs a small inline boot call that
// loads this file on first use and then calls window.__cmPlayer.init with integers only. It plays
// the encrypted HLS through hls.js (assets/vendor, loaded on first use) or the free-seconds clip,
// and drives the HD/SD/listen switch, speed, resume/?t= seek, no-seek-ahead, autoplay-next,
// heartbeats, article reading progress, marker seeks and the moving watermark.
(function(){
if (window.__cmPlayer) return;
var SPEEDS = [0.5, 0.75, 1, 1.25, 1.5, 2];
var P = {cfg: null, seg: null, lastT: 0, lastSent: 0, n: 0, furthest: 0, readMax: 0, readSent: -1,
         readSentAt: 0, observer: null, switching: null, chosen: false, hls: null, hlsWaiting: [],
         hlsLoading: false};
function media(){
  var m = document.getElementById('lesson-video') || document.getElementById('lesson-audio');
  if (!m || !P.cfg || m.getAttribute('data-lesson') !== String(P.cfg.lesson)) return null;
  return m;
}
// Sources: the server renders one signed URL per source as data-hd / data-sd / data-listen /
// data-src attributes: encrypted HLS playlists (/api/hls/..., played through hls.js, loaded on
// first use from /vendor) or, for a partial preview, the free-seconds clip (a plain file). The
// element carries the playing source's name in data-playing. The HD/SD choice is remembered
// (localStorage); listen mode lasts for the tab (sessionStorage) so autoplay-next keeps
// listening. A switch keeps position, speed, play/pause.
var HLS_JS = '/vendor/hls.light.min.js?v=1.7.4';
function listening(m){ return !!m.getAttribute('data-listen') && sessionStorage.getItem('cm-listen') === '1'; }
function wantedQuality(m){
  var q = localStorage.getItem('cm-quality');
  return (q === 'hd' || q === 'sd') && m.getAttribute('data-' + q) ? q : '';
}
function wantedName(m){ return listening(m) ? 'listen' : wantedQuality(m); }
function defaultName(m){
  var names = ['hd', 'sd', 'src'];
  for (var i = 0; i < names.length; i++) { if (m.getAttribute('data-' + names[i])) return names[i]; }
  return '';
}
function markSources(m){
  var q = (m && !listening(m)) ? (wantedQuality(m) || (m.getAttribute('data-hd') ? 'hd' : '')) : '';
  document.querySelectorAll('[data-quality]').forEach(function(b){
    var on = b.getAttribute('data-quality') === q;
    b.setAttribute('aria-pressed', on ? 'true' : 'false');
    b.style.background = on ? 'var(--orange-9)' : ''; b.style.color = on ? 'white' : '';
  });
  var on = !!m && listening(m);
  var t = document.getElementById('listen-toggle'); if (t) t.setAttribute('aria-pressed', on ? 'true' : 'false');
  var o = document.getElementById('listen-overlay'); if (o) o.style.display = on ? 'flex' : 'none';
}
function withHls(cb){
  if (window.Hls) { cb(window.Hls); return; }
  P.hlsWaiting.push(cb);
  if (P.hlsLoading) return;
  P.hlsLoading = true;
  var s = document.createElement('script'); s.src = HLS_JS; s.async = true;
  function done(){ P.hlsLoading = false; var w = P.hlsWaiting; P.hlsWaiting = []; w.forEach(function(f){ f(window.Hls || null); }); }
  s.onload = done; s.onerror = done;
  document.head.appendChild(s);
}
function stopHls(){ if (P.hls) { var h = P.hls; P.hls = null; h.destroy(); } }
function load(m, name, url, at){
  // Play `url` in the element from second `at` (-1 = from the start).
  m.setAttribute('data-playing', name); m.__cmUrl = url;
  stopHls();
  if (url.indexOf('/api/hls/') !== 0) { m.setAttribute('src', url); m.load(); return; }
  withHls(function(Hls){
    if (m.__cmUrl !== url || media() !== m) return;
    if (Hls && Hls.isSupported()) {
      var h = new Hls({startPosition: at > 0 ? at : -1, maxBufferLength: 30, maxMaxBufferLength: 60});
      P.hls = h;
      h.on(Hls.Events.ERROR, function(ev, d){
        if (!d || !d.fatal || P.hls !== h) return;
        stopHls(); refreshSources(m);  // typically an expired playlist token: fresh URLs, same second
      });
      h.loadSource(url); h.attachMedia(m);
    } else {
      m.setAttribute('src', url); m.load();  // native HLS (Safari, iOS)
    }
  });
}
function useSource(m, name){
  var url = name ? m.getAttribute('data-' + name) : '';
  if (!url || (m.getAttribute('data-playing') === name && m.__cmUrl === url)) { markSources(m); return; }
  var at = P.cfg.start > 0 ? P.cfg.start : -1;
  if (m.__cmStarted === P.cfg.token) {
    // Already playing this lesson: save the span, then restore time/speed/state on the new source.
    var playing = !m.paused && !m.ended;
    if (playing) beat(m);
    P.switching = {t: m.currentTime, playing: playing, rate: m.playbackRate};
    at = m.currentTime;
  }
  load(m, name, url, at); markSources(m);
}
// A failed source (typically its 10-minute token expired during a long lesson, or before the first
// play): ask the server for fresh URLs once per 15 s, then carry on from the same second.
function refreshSources(m){
  if (!P.cfg || (P.refreshedAt && Date.now() - P.refreshedAt < 15000)) return;
  var name = m.getAttribute('data-playing') || '', old = m.__cmUrl || '';
  if (!name) return;
  P.refreshedAt = Date.now();
  var resume = {t: m.currentTime > 0 ? m.currentTime : P.lastT, playing: !m.paused || P.wasPlaying,
                rate: m.playbackRate};
  send('player-refresh', {lesson_id: P.cfg.lesson});
  var tries = 50;
  (function wait(){
    var cur = media(); if (cur !== m) return;
    var fresh = m.getAttribute('data-' + name);
    if (fresh && fresh !== old) { P.switching = resume; load(m, name, fresh, resume.t); return; }
    if (--tries > 0) setTimeout(wait, 200);
  })();
}
function restoreAfterSwitch(m){
  m.__cmStarted = P.cfg.token;
  var s = P.switching; P.switching = null;
  if (s.t > 0 && Math.abs(m.currentTime - s.t) > 0.3 && (!isFinite(m.duration) || s.t < m.duration)) m.currentTime = s.t;
  m.defaultPlaybackRate = s.rate; m.playbackRate = s.rate;
  P.lastT = m.currentTime; P.seg = null;
  if (s.playing) { var p = m.play(); if (p && p.catch) p.catch(function(){}); }
}
function send(id, payload){
  var inp = document.getElementById(id); if (!inp) return;
  P.n += 1; payload.n = P.n;
  var setter = Object.getOwnPropertyDescriptor(HTMLInputElement.prototype, 'value').set;
  setter.call(inp, JSON.stringify(payload));
  inp.dispatchEvent(new Event('input', {bubbles: true}));
}
function fin(x){ return (typeof x === 'number' && isFinite(x) && x >= 0) ? Math.round(x * 10) / 10 : 0; }
function beat(m){
  if (!P.cfg || !P.cfg.track || P.cfg.article) return;
  m = m || media(); if (!m) return;
  var from = P.seg === null ? P.lastT : P.seg, to = P.lastT;
  if (to < from) from = to;
  send('player-beat', {lesson_id: P.cfg.lesson, position: fin(m.currentTime), from: fin(from), to: fin(to)});
  P.seg = to; P.lastSent = Date.now();
}
function savedSpeed(){
  var v = parseFloat(localStorage.getItem('cm-speed') || '1');
  return SPEEDS.indexOf(v) >= 0 ? v : 1;
}
function markSpeed(v){
  document.querySelectorAll('[data-speed]').forEach(function(b){
    var on = parseFloat(b.getAttribute('data-speed')) === v;
    b.setAttribute('aria-pressed', on ? 'true' : 'false');
    b.style.background = on ? 'var(--orange-9)' : ''; b.style.color = on ? 'white' : '';
  });
}
function applySpeed(m){ var v = savedSpeed(); m.defaultPlaybackRate = v; m.playbackRate = v; markSpeed(v); }
function applyStart(m){
  if (!P.cfg || m.__cmStarted === P.cfg.token) return;
  if (m.readyState < 1) return;
  m.__cmStarted = P.cfg.token;
  var s = P.cfg.start;
  if (s > 0 && Math.abs(m.currentTime - s) > 0.3 && (!isFinite(m.duration) || s < m.duration - 1)) m.currentTime = s;
  P.lastT = m.currentTime; P.seg = null;
  applySpeed(m);
  if (sessionStorage.getItem('cm-autoplay') === '1') {
    sessionStorage.removeItem('cm-autoplay');
    var p = m.play(); if (p && p.catch) p.catch(function(){});
  }
}
function onEvent(e){
  var m = e.target; if (!m || (m.id !== 'lesson-video' && m.id !== 'lesson-audio')) return;
  if (m !== media()) return;
  if (P.switching) { if (e.type === 'loadedmetadata') restoreAfterSwitch(m); return; }
  var t = m.currentTime;
  switch (e.type) {
    case 'loadedmetadata': applyStart(m); break;
    case 'error': refreshSources(m); break;
    case 'play': case 'playing':
      P.wasPlaying = true;
      applySpeed(m); if (P.seg === null) { P.seg = t; } P.lastT = t; break;
    case 'timeupdate':
      if (m.paused || m.seeking) break;
      var d = t - P.lastT;
      if (d >= 0 && d <= 3) { P.lastT = t; } else { P.seg = t; P.lastT = t; }
      if (t <= P.furthest + 3 && t > P.furthest) P.furthest = t;
      if (Date.now() - P.lastSent >= 10000) beat(m);
      break;
    case 'seeking':
      if (P.cfg.noSeek && t > P.furthest + 1) { m.currentTime = P.furthest; return; }
      if (P.seg !== null && P.lastT > P.seg) beat(m);
      P.seg = null; break;
    case 'seeked': P.lastT = m.currentTime; P.seg = m.paused ? null : m.currentTime; break;
    case 'pause': P.wasPlaying = false; beat(m); break;
    case 'ended':
      P.lastT = isFinite(m.duration) ? m.duration : t; beat(m);
      if (parseFloat(m.getAttribute('data-free-seconds') || '0') > 0) break;  // a preview ends at its buy prompt
      var next = document.getElementById('lesson-next');
      if (next) { sessionStorage.setItem('cm-autoplay', '1'); next.click(); }
      break;
  }
}
['loadedmetadata','play','playing','timeupdate','seeking','seeked','pause','ended','error'].forEach(function(t){
  document.addEventListener(t, onEvent, true);
});
document.addEventListener('click', function(e){
  var a = e.target && e.target.closest ? e.target.closest('a[href]') : null;
  if (a) { var pm = media(); if (pm && !pm.paused) beat(pm); return; }  // SPA navigation: save first
  var b = e.target && e.target.closest ? e.target.closest('[data-speed],[data-seek],[data-quality],#listen-toggle,#note-open') : null;
  if (!b) return;
  var m = media();
  if (b.hasAttribute('data-quality')) {
    var q = b.getAttribute('data-quality'); if (q !== 'hd' && q !== 'sd') return;
    localStorage.setItem('cm-quality', q); sessionStorage.removeItem('cm-listen');
    if (m) useSource(m, q);
  } else if (b.id === 'listen-toggle') {
    if (!m || !m.getAttribute('data-listen')) return;
    if (listening(m)) sessionStorage.removeItem('cm-listen'); else sessionStorage.setItem('cm-listen', '1');
    useSource(m, wantedName(m) || defaultName(m));
  } else if (b.hasAttribute('data-speed')) {
    var v = parseFloat(b.getAttribute('data-speed')); if (SPEEDS.indexOf(v) < 0) return;
    localStorage.setItem('cm-speed', String(v)); markSpeed(v);
    if (m) { m.defaultPlaybackRate = v; m.playbackRate = v; }
  } else if (b.hasAttribute('data-seek')) {
    var s = parseInt(b.getAttribute('data-seek'), 10);
    if (m && s >= 0) { m.currentTime = s; var p = m.play(); if (p && p.catch) p.catch(function(){}); }
  } else {
    var at = document.getElementById('note-at');
    if (at && m) at.value = String(Math.floor(m.currentTime || 0));
  }
}, true);
function articleReady(art){
  // Rendered text and every image loaded: before that the article is shorter than it will be.
  if (!art || (art.textContent || '').trim().length < 1 || art.offsetHeight < 1) return false;
  var imgs = art.querySelectorAll('img');
  for (var i = 0; i < imgs.length; i++) { if (!imgs[i].complete) return false; }
  return true;
}
document.addEventListener('load', function(e){
  if (e.target && e.target.tagName === 'IMG' && P.cfg && P.cfg.article) readProgress();
}, true);
function readProgress(){
  if (!P.cfg || !P.cfg.article) return;
  var el = document.getElementById('lesson-article');
  if (!el || el.getAttribute('data-lesson') !== String(P.cfg.lesson)) return;
  var r = el.getBoundingClientRect();
  var pct = r.height > 0 ? Math.round(Math.min(1, Math.max(0, (window.innerHeight - r.top) / r.height)) * 100) : 0;
  var bar = document.getElementById('read-progress-bar'); if (bar) bar.style.width = pct + '%';
  if (pct > P.readMax) P.readMax = pct;
  if (pct >= 100 && articleReady(el)) { sendRead(100); return; }
  if (P.readMax >= 100) P.readMax = 99;  // the end was not really reached (images still loading)
  if (P.cfg.track && P.readMax >= P.readSent + 20 && Date.now() - P.readSentAt > 5000) sendRead(P.readMax);
}
function sendRead(pct){
  if (!P.cfg || !P.cfg.track || pct <= P.readSent) return;
  P.readSent = pct; P.readSentAt = Date.now();
  send('player-read', {lesson_id: P.cfg.lesson, percent: pct});
}
window.addEventListener('scroll', readProgress, {passive: true});
window.addEventListener('pagehide', function(){
  if (!P.cfg) return;
  if (P.cfg.article) { sendRead(P.readMax); } else { var m = media(); if (m && !m.paused) beat(m); }
});
document.addEventListener('visibilitychange', function(){
  // Audio keeps playing in the background (no pause here); just save where we are.
  if (document.visibilityState === 'hidden' && P.cfg && !P.cfg.article) { var m = media(); if (m && !m.paused) beat(m); }
});
function moveMarks(){
  document.querySelectorAll('.cm-watermark').forEach(function(w){
    w.style.top = (8 + Math.random() * 70) + '%'; w.style.left = (4 + Math.random() * 36) + '%';
  });
}
setInterval(moveMarks, 20000);
function watchArticleEnd(tries){
  var end = document.getElementById('article-end');
  if (!end || !P.cfg || !P.cfg.article) { if (tries > 0 && P.cfg && P.cfg.article) setTimeout(function(){ watchArticleEnd(tries - 1); }, 150); return; }
  if (P.observer) P.observer.disconnect();
  P.observer = new IntersectionObserver(function(entries){
    entries.forEach(function(en){
      // Only the current lesson's rendered article counts (not an empty box before its HTML arrives).
      var art = document.getElementById('lesson-article');
      if (!en.isIntersecting || !art || art.getAttribute('data-lesson') !== String(P.cfg.lesson)) return;
      if (!articleReady(art)) return;
      P.readMax = 100; readProgress(); sendRead(100);
    });
  });
  P.observer.observe(end);
}
function settle(tries){
  var m = media();
  if (m) {
    if (!P.chosen) { P.chosen = true; useSource(m, wantedName(m) || defaultName(m)); }
    applySpeed(m); applyStart(m); if (m.__cmStarted === P.cfg.token) return;
  }
  if (tries > 0) setTimeout(function(){ settle(tries - 1); }, 100);
}
window.__cmPlayer = {
  init: function(lesson, start, furthest, noSeek, article, track){
    P.cfg = {lesson: lesson, start: start, noSeek: !!noSeek, article: !!article, track: !!track,
             token: lesson + ':' + Date.now()};
    P.seg = null; P.lastT = start; P.lastSent = Date.now(); P.furthest = Math.max(furthest, 0);
    P.switching = null; P.chosen = false; P.refreshedAt = 0; P.wasPlaying = false; stopHls();
    P.readMax = 0; P.readSent = -1; P.readSentAt = 0;
    moveMarks(); markSpeed(savedSpeed());
    if (article) { setTimeout(readProgress, 300); watchArticleEnd(40); } else { settle(100); }
  }
};
// The boot call that loaded this file left its init here (the latest lesson's, if several).
var pending = window.__cmPlayerPending; window.__cmPlayerPending = null;
if (typeof pending === 'function') pending();
})();
