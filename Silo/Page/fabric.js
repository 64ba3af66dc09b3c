// The fabric page: reads GET /api/fabric (hosts, switches, segments, FDB, alarms) and each live
// host's GET /api/hosts/{id}/status (per-port counters) every 2 s and redraws. No framework, no
// build step, nothing loaded from anywhere but the silo.
(() => {
  'use strict';

  const POLL_MS = 2000;
  const STALE_MS = 3 * POLL_MS;
  const COUNTERS = [
    ['received', 'Received'], ['delivered', 'Delivered'], ['encapsulated', 'Encapsulated'],
    ['flooded', 'Flooded'], ['arpSuppressed', 'ARP suppressed'], ['routed', 'Routed'],
  ];
  const BYTES = [['receivedBytes', 'Bytes in'], ['deliveredBytes', 'Bytes out']];

  const ui = {
    lastSuccess: 0,
    fdbOpen: new Map(),          // VNI -> whether its FDB is unfolded (the person's choice wins)
    previous: new Map(),         // host -> { at, ports: Map(port -> received) } for rates
    rates: new Map(),            // host/port -> frames/s
  };

  const $ = id => document.getElementById(id);

  /** Builds an element: h('td', {class: 'num'}, 'text', child, ...). Text is never parsed as HTML. */
  function h(tag, attrs, ...children) {
    const element = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs || {})) {
      if (value === undefined || value === null || value === false) continue;
      if (name.startsWith('on')) element.addEventListener(name.slice(2), value);
      else element.setAttribute(name, value === true ? '' : String(value));
    }
    for (const child of children.flat()) {
      if (child === undefined || child === null || child === false) continue;
      element.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return element;
  }

  const badge = (kind, text, title) => h('span', { class: `badge ${kind}`, title }, text);
  const num = n => (n ?? 0).toLocaleString('en-US');
  function bytes(n) {
    n = n || 0;
    const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
    let i = 0;
    while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
    return i === 0 ? `${n} B` : `${n.toFixed(1)} ${units[i]}`;
  }
  const clock = iso => new Date(iso).toLocaleTimeString('en-GB', { hour12: false });

  function ago(iso, now) {
    const seconds = Math.max(0, (Date.parse(now) - Date.parse(iso)) / 1000);
    if (seconds < 60) return `${seconds.toFixed(1)} s ago`;
    if (seconds < 3600) return `${Math.floor(seconds / 60)} min ago`;
    return `${Math.floor(seconds / 3600)} h ago`;
  }

  class ApiError extends Error {
    constructor(status, detail) { super(detail); this.status = status; }
  }

  async function getJson(url) {
    const response = await fetch(url, { cache: 'no-store', headers: { accept: 'application/json' } });
    if (!response.ok) {
      let detail = response.statusText;
      try {
        const problem = await response.json();
        detail = problem.detail || problem.title || detail;
      } catch { /* not problem+json */ }
      throw new ApiError(response.status, detail);
    }
    return response.json();
  }

  function setState(state, text) {
    const element = $('state');
    element.dataset.state = state;
    element.textContent = text;
  }

  function replace(id, ...children) {
    $(id).replaceChildren(...children.flat());
  }

  // ---- sections ----------------------------------------------------------------------------

  function renderSummary(o) {
    const alive = o.hosts.filter(x => x.alive).length;
    const macs = o.segments.reduce((n, s) => n + s.macs.length, 0);
    const groups = o.switches.reduce((n, s) => n + s.portGroups.length, 0);
    const critical = o.alarms.filter(a => a.severity === 'critical').length;
    const tile = (value, label, kind) => h('div', { class: `tile ${kind || ''}`, 'data-tile': label }, h('b', {}, value), h('span', {}, label));
    replace('summary',
      tile(`${alive} / ${o.hosts.length}`, 'hosts alive', alive < o.hosts.length ? 'bad' : ''),
      tile(o.switches.length, 'switches'),
      tile(groups, 'port groups'),
      tile(o.segments.length, 'segments'),
      tile(num(macs), 'MACs'),
      tile(o.alarms.length, 'alarms', critical ? 'bad' : o.alarms.length ? 'warn' : ''));
  }

  function renderAlarms(o) {
    if (o.alarms.length === 0) {
      replace('alarms', h('li', { class: 'none' }, 'No alarms: every host is alive and up to date, no MAC is frozen, no IP is duplicate.'));
      return;
    }
    const names = { hostDead: 'Host dead', macFrozen: 'MAC frozen', ipDuplicate: 'Duplicate IP', hostLagging: 'Host lagging' };
    replace('alarms', o.alarms.map(a => h('li', { class: a.severity, 'data-kind': a.kind, 'data-subject': a.subject },
      h('b', {}, names[a.kind] || a.kind), a.detail)));
  }

  function renderHosts(o) {
    const versions = new Map(o.switches.map(s => [s.name, s.version]));
    const rows = o.hosts.map(host => {
      const version = versions.get(host.switch);
      const lagging = host.alive && version !== undefined && host.appliedGeneration < version;
      return h('tr', { 'data-host': host.id, class: host.alive ? 'alive' : 'dead' },
        h('td', {}, h('b', {}, host.id)),
        h('td', { class: 'host-state' }, host.alive ? badge('ok', 'alive') : badge('bad', 'dead')),
        h('td', { class: 'mono' }, host.vtep),
        h('td', {}, host.agentVersion),
        h('td', {}, host.switch),
        h('td', {}, `${host.appliedGeneration}${version !== undefined ? ` of ${version}` : ''} `,
          lagging ? badge('warn', 'lagging') : version !== undefined && host.alive ? badge('ok', 'applied') : null),
        h('td', { title: host.lastHeartbeat }, ago(host.lastHeartbeat, o.takenAt)),
        h('td', { class: 'num' }, host.ports.length));
    });
    $('hosts').tBodies[0].replaceChildren(...(rows.length ? rows : [h('tr', {}, h('td', { colspan: 8, class: 'muted' }, 'No host has registered yet.'))]));
  }

  function vlanText(vlan) {
    if (vlan.mode === 'trunk') {
      return `trunk ${vlan.trunkRanges.join(',')}${vlan.nativeVlan ? ` native ${vlan.nativeVlan}` : ''}`;
    }
    return vlan.accessVlan ? `access ${vlan.accessVlan}` : 'access (untagged)';
  }

  function renderSwitches(o) {
    if (o.switches.length === 0) {
      replace('switches', h('p', { class: 'muted' }, 'No switch yet: PUT /api/switches/{name}.'));
      return;
    }
    replace('switches', o.switches.map(s => h('div', { 'data-switch': s.name },
      h('h3', {}, `${s.name} · MTU ${s.mtu} · generation ${s.version} `,
        s.appliedOnEveryHost ? badge('ok', 'applied on every host') : badge('warn', 'not applied everywhere yet')),
      s.portGroups.length === 0
        ? h('p', { class: 'muted' }, 'No port group.')
        : h('table', { class: 'portgroups' },
          h('thead', {}, h('tr', {}, ['Port group', 'VNI', 'VLAN', 'Network', 'Routed', 'Subnet', 'Gateway', 'DHCP', 'Security'].map(t => h('th', {}, t)))),
          h('tbody', {}, s.portGroups.map(g => h('tr', { 'data-portgroup': g.name },
            h('td', {}, h('b', {}, g.name)),
            h('td', { class: 'num' }, g.vni),
            h('td', {}, vlanText(g.vlan)),
            h('td', {}, g.network),
            h('td', {}, g.routed ? badge('info', 'routed') : '–'),
            h('td', { class: 'mono' }, g.ipv4 ? g.ipv4.subnet : '–'),
            h('td', { class: 'mono' }, g.ipv4 && g.ipv4.gateway ? g.ipv4.gateway : '–'),
            h('td', {}, g.ipv4 && g.ipv4.dhcp ? 'on' : '–'),
            h('td', { class: 'muted' }, `MAC limit ${g.security.macLimit}${g.security.allowForgedTransmits ? ', forged transmits' : ''}${g.security.allowPromiscuous ? ', promiscuous' : ''}`))))))));
  }

  function renderSegments(o) {
    const rows = o.segments.map(s => h('tr', { 'data-vni': s.vni },
      h('td', { class: 'num' }, h('b', {}, s.vni)),
      h('td', {}, `${s.switch}/${s.portGroup}`),
      h('td', {}, s.network),
      h('td', { class: 'floodlist' }, s.floodList.length
        ? s.floodList.map(e => h('span', { class: 'chip', 'data-vtep': e.vtep }, `${e.hostId} `, h('span', { class: 'mono' }, e.vtep)))
        : h('span', { class: 'muted' }, 'empty')),
      h('td', { class: 'num' }, s.macs.length),
      h('td', { class: 'num' }, s.ipBindings.length)));
    $('segments').tBodies[0].replaceChildren(...(rows.length ? rows : [h('tr', {}, h('td', { colspan: 6, class: 'muted' }, 'No segment: create a port group.'))]));
  }

  function matches(filter, ...fields) {
    return !filter || fields.some(f => String(f ?? '').toLowerCase().includes(filter));
  }

  function renderFdb(o) {
    const filter = $('fdb-filter').value.trim().toLowerCase();
    if (o.segments.length === 0) {
      replace('fdb', h('p', { class: 'muted' }, 'No segment.'));
      return;
    }
    replace('fdb', o.segments.map(s => {
      const macs = s.macs.filter(m => matches(filter, m.mac, m.hostId, m.vtep, m.port));
      const bindings = s.ipBindings.filter(b => matches(filter, b.ip, b.mac));
      const frozen = s.macs.filter(m => m.frozen).length;
      const duplicate = s.ipBindings.filter(b => b.duplicate).length;
      const open = ui.fdbOpen.has(s.vni) ? ui.fdbOpen.get(s.vni) : s.macs.length + s.ipBindings.length <= 40;
      const details = h('details', { 'data-vni': s.vni, open: Boolean(open || (filter && (macs.length || bindings.length))) },
        h('summary', {}, h('b', {}, `VNI ${s.vni}`), ` ${s.portGroup} · ${s.macs.length} MACs, ${s.ipBindings.length} IP bindings `,
          frozen ? badge('warn', `${frozen} frozen`) : null, ' ', duplicate ? badge('warn', `${duplicate} duplicate`) : null),
        h('div', { class: 'split' },
          h('table', { class: 'macs' },
            h('thead', {}, h('tr', {}, ['MAC', 'Host', 'VTEP', 'Port', 'Seq', 'Learned', ''].map(t => h('th', {}, t)))),
            h('tbody', {}, macs.length ? macs.map(m => h('tr', { 'data-mac': m.mac, class: m.frozen ? 'frozen' : '' },
              h('td', { class: 'mono' }, m.mac),
              h('td', {}, m.hostId),
              h('td', { class: 'mono' }, m.vtep),
              h('td', {}, m.port),
              h('td', { class: 'num' }, m.sequence),
              h('td', { title: m.learnedAt }, ago(m.learnedAt, o.takenAt)),
              h('td', { class: 'flags' },
                m.frozen ? badge('warn', 'frozen', 'moved too often: frozen where it was (EVPN duplicate detection)') : null, ' ',
                m.sequence > 1 ? badge('info', `moved ×${m.sequence - 1}`) : null, ' ',
                m.static ? badge('info', 'static') : null)))
              : [h('tr', {}, h('td', { colspan: 7, class: 'muted' }, filter ? 'No MAC matches.' : 'No MAC learned.'))])),
          h('table', { class: 'bindings' },
            h('thead', {}, h('tr', {}, ['IP', 'MAC', 'Seq', ''].map(t => h('th', {}, t)))),
            h('tbody', {}, bindings.length ? bindings.map(b => h('tr', { 'data-ip': b.ip, class: b.duplicate ? 'duplicate' : '' },
              h('td', { class: 'mono' }, b.ip),
              h('td', { class: 'mono' }, b.mac),
              h('td', { class: 'num' }, b.sequence),
              h('td', {}, b.duplicate ? badge('warn', 'duplicate', 'claimed by more than one MAC: not proxied') : null)))
              : [h('tr', {}, h('td', { colspan: 4, class: 'muted' }, filter ? 'No binding matches.' : 'No IP binding.'))]))));
      details.addEventListener('toggle', () => ui.fdbOpen.set(s.vni, details.open));
      return details;
    }));
  }

  function drops(counters) {
    let total = 0;
    const reasons = [];
    for (const [key, value] of Object.entries(counters || {})) {
      if (key.startsWith('drop.')) { total += value; reasons.push(`${key.slice(5)}: ${value}`); }
    }
    return { total, reasons: reasons.join(', ') };
  }

  function rate(host, port, counters, at) {
    const key = `${host}/${port}`;
    const previous = ui.previous.get(host);
    const received = counters.received || 0;
    if (previous && previous.at < at && previous.ports.has(port)) {
      ui.rates.set(key, (received - previous.ports.get(port)) / ((at - previous.at) / 1000));
    }
    return ui.rates.get(key);
  }

  function counterRow(host, name, counters, at, attrs, extra) {
    const d = drops(counters);
    const perSecond = rate(host, name, counters, at);
    return h('tr', attrs,
      h('td', {}, h('b', {}, name)),
      h('td', {}, extra.trunk ? 'trunk' : extra.kind || 'access'),
      h('td', { class: 'num' }, extra.macs ?? ''),
      COUNTERS.map(([key]) => h('td', { class: 'num', 'data-counter': key }, num(counters[key]))),
      BYTES.map(([key]) => h('td', { class: 'num', 'data-counter': key, title: `${num(counters[key])} bytes` }, bytes(counters[key]))),
      h('td', { class: 'num', 'data-counter': 'drops', title: d.reasons || 'none' }, d.total ? badge('warn', num(d.total)) : '0'),
      h('td', { class: 'num' }, perSecond === undefined ? '–' : perSecond.toFixed(1)));
  }

  function renderPorts(o, statuses) {
    const byHost = new Map(statuses.map(s => [s.host, s]));
    if (o.hosts.length === 0) {
      replace('ports', h('p', { class: 'muted' }, 'No host has registered yet.'));
      return;
    }
    replace('ports', o.hosts.map(host => {
      const title = h('h3', {}, `${host.id} `, h('span', { class: 'muted mono' }, host.vtep));
      const entry = byHost.get(host.id);
      if (!host.alive) {
        return h('div', { 'data-host': host.id }, title, h('p', { class: 'note' }, 'Dead: no counters.'));
      }
      if (!entry || entry.error) {
        const why = entry && entry.error ? `${entry.error.status ? entry.error.status + ': ' : ''}${entry.error.message}` : 'not asked';
        return h('div', { 'data-host': host.id }, title, h('p', { class: 'note' }, `Counters unavailable (${why}).`));
      }
      const status = entry.status;
      const at = Date.parse(status.writtenAt);
      const rows = [
        ...status.ports.map(p => counterRow(host.id, p.name, p.counters, at, { 'data-port': p.name }, { trunk: p.trunk, macs: p.macs })),
        counterRow(host.id, 'VTEP', status.vtep, at, { 'data-port': '(vtep)', class: 'muted' }, { kind: 'UDP 4789' }),
        counterRow(host.id, 'Total', status.total, at, { 'data-port': '(total)', class: 'total' }, { kind: 'all' }),
      ];
      ui.previous.set(host.id, {
        at,
        ports: new Map([...status.ports.map(p => [p.name, p.counters.received || 0]), ['VTEP', status.vtep.received || 0], ['Total', status.total.received || 0]]),
      });
      return h('div', { 'data-host': host.id }, title,
        h('table', { class: 'counters' },
          h('thead', {}, h('tr', {}, h('th', {}, 'Port'), h('th', {}, 'Mode'), h('th', { class: 'num' }, 'MACs'),
            COUNTERS.map(([, label]) => h('th', { class: 'num' }, label)), BYTES.map(([, label]) => h('th', { class: 'num' }, label)),
            h('th', { class: 'num' }, 'Drops'), h('th', { class: 'num' }, 'Rx frames/s'))),
          h('tbody', {}, rows)));
    }));
  }

  // ---- the loop ----------------------------------------------------------------------------

  let latest = null;

  function render(overview, statuses) {
    latest = { overview, statuses };
    renderSummary(overview);
    renderAlarms(overview);
    renderHosts(overview);
    renderSwitches(overview);
    renderSegments(overview);
    renderFdb(overview);
    renderPorts(overview, statuses);
  }

  async function tick() {
    try {
      const overview = await getJson('/api/fabric');
      const statuses = await Promise.all(overview.hosts.filter(x => x.alive).map(host =>
        getJson(`/api/hosts/${encodeURIComponent(host.id)}/status`).then(
          status => ({ host: host.id, status }),
          error => ({ host: host.id, error }))));
      render(overview, statuses);
      ui.lastSuccess = Date.now();
      setState('live', `live · ${clock(overview.takenAt)}`);
    } catch (error) {
      const stale = ui.lastSuccess && Date.now() - ui.lastSuccess < STALE_MS;
      setState(stale ? 'stale' : 'error', `${stale ? 'stale' : 'no answer'}: ${error.message}`);
    } finally {
      setTimeout(tick, POLL_MS);
    }
  }

  $('fdb-filter').addEventListener('input', () => latest && renderFdb(latest.overview));
  tick();
})();
