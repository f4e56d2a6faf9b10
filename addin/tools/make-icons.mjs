#!/usr/bin/env node
/**
 * Draws the add-in's ribbon and app icons as PNG files (16/32/64/80/128 px) into
 * addin/static/icons/. Pure Node (zlib for PNG compression): no image library to install.
 *
 * Each icon is a list of vector shapes in a 0..1 square, rasterised with 4x4 supersampling so
 * the small sizes stay clean. Run: `node addin/tools/make-icons.mjs` (or `npm run icons` in addin/).
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { deflateSync } from "node:zlib";

const OUT = join(dirname(fileURLToPath(import.meta.url)), "..", "static", "icons");
export const SIZES = [16, 32, 64, 80, 128];

const GREEN = [31, 111, 92];
const DARK = [40, 48, 56];
const WHITE = [255, 255, 255];
const AMBER = [214, 140, 20];

// Shapes: (x, y) -> inside? in the unit square.
const roundRect = (x0, y0, x1, y1, r) => (x, y) => {
  const dx = Math.max(x0 + r - x, 0, x - (x1 - r));
  const dy = Math.max(y0 + r - y, 0, y - (y1 - r));
  return x >= x0 && x <= x1 && y >= y0 && y <= y1 && dx * dx + dy * dy <= r * r;
};
const circle = (cx, cy, r) => (x, y) => (x - cx) ** 2 + (y - cy) ** 2 <= r * r;
const ring = (cx, cy, r, w) => (x, y) => Math.abs(Math.hypot(x - cx, y - cy) - r) <= w / 2;
/** A thick segment with round caps. */
const line = (ax, ay, bx, by, w) => (x, y) => {
  const vx = bx - ax, vy = by - ay;
  const t = Math.max(0, Math.min(1, ((x - ax) * vx + (y - ay) * vy) / (vx * vx + vy * vy)));
  return Math.hypot(x - (ax + t * vx), y - (ay + t * vy)) <= w / 2;
};
/** Polyline of thick segments. */
const path = (points, w) => {
  const segments = points.slice(1).map((p, i) => line(points[i][0], points[i][1], p[0], p[1], w));
  return (x, y) => segments.some((s) => s(x, y));
};
const polygon = (points) => (x, y) => {
  let inside = false;
  for (let i = 0, j = points.length - 1; i < points.length; j = i++) {
    const [xi, yi] = points[i], [xj, yj] = points[j];
    if ((yi > y) !== (yj > y) && x < ((xj - xi) * (y - yi)) / (yj - yi) + xi) inside = !inside;
  }
  return inside;
};
const outline = (x0, y0, x1, y1, r, w) => {
  const outer = roundRect(x0, y0, x1, y1, r);
  const inner = roundRect(x0 + w, y0 + w, x1 - w, y1 - w, Math.max(0, r - w));
  return (x, y) => outer(x, y) && !inner(x, y);
};

/** The icons: name -> layers [shape, colour], painted in order. */
export const ICONS = {
  kpibook: [
    [roundRect(0.04, 0.04, 0.96, 0.96, 0.18), GREEN],
    [roundRect(0.2, 0.52, 0.34, 0.8, 0.03), WHITE],
    [roundRect(0.43, 0.36, 0.57, 0.8, 0.03), WHITE],
    [roundRect(0.66, 0.2, 0.8, 0.8, 0.03), WHITE],
  ],
  "new-period": [
    [outline(0.1, 0.16, 0.9, 0.9, 0.1, 0.08), DARK],
    [roundRect(0.1, 0.16, 0.9, 0.36, 0.08), DARK],
    [line(0.3, 0.06, 0.3, 0.22, 0.09), DARK],
    [line(0.7, 0.06, 0.7, 0.22, 0.09), DARK],
    [line(0.5, 0.47, 0.5, 0.79, 0.11), GREEN],
    [line(0.34, 0.63, 0.66, 0.63, 0.11), GREEN],
  ],
  pull: [
    [path([[0.1, 0.6], [0.1, 0.9], [0.9, 0.9], [0.9, 0.6]], 0.09), DARK],
    [line(0.5, 0.08, 0.5, 0.6, 0.12), GREEN],
    [polygon([[0.27, 0.45], [0.73, 0.45], [0.5, 0.74]]), GREEN],
  ],
  score: [
    [line(0.08, 0.92, 0.92, 0.92, 0.07), DARK],
    [roundRect(0.14, 0.56, 0.32, 0.88, 0.02), DARK],
    [roundRect(0.41, 0.38, 0.59, 0.88, 0.02), DARK],
    [roundRect(0.68, 0.2, 0.86, 0.88, 0.02), GREEN],
    [path([[0.12, 0.4], [0.4, 0.2], [0.6, 0.28], [0.86, 0.06]], 0.07), AMBER],
  ],
  check: [
    [ring(0.5, 0.5, 0.4, 0.09), DARK],
    [path([[0.3, 0.52], [0.45, 0.67], [0.72, 0.36]], 0.11), GREEN],
  ],
  submit: [
    [polygon([[0.06, 0.46], [0.94, 0.1], [0.66, 0.92], [0.48, 0.6]]), GREEN],
    [polygon([[0.48, 0.6], [0.94, 0.1], [0.4, 0.84]]), DARK],
  ],
  refresh: [
    [(x, y) => ring(0.5, 0.54, 0.34, 0.11)(x, y) && !(x > 0.5 && y < 0.5), DARK],
    [polygon([[0.46, 0.04], [0.46, 0.36], [0.74, 0.2]]), GREEN],
    [roundRect(0.38, 0.46, 0.62, 0.7, 0.03), GREEN],
  ],
  review: [
    [outline(0.08, 0.2, 0.8, 0.92, 0.08, 0.08), DARK],
    [path([[0.44, 0.56], [0.88, 0.12]], 0.1), GREEN],
    [path([[0.56, 0.1], [0.9, 0.1], [0.9, 0.44]], 0.1), GREEN],
  ],
  taskpane: [
    [outline(0.06, 0.12, 0.94, 0.88, 0.08, 0.08), DARK],
    [roundRect(0.58, 0.12, 0.94, 0.88, 0.08), GREEN],
    [line(0.2, 0.36, 0.46, 0.36, 0.07), DARK],
    [line(0.2, 0.52, 0.46, 0.52, 0.07), DARK],
    [line(0.2, 0.68, 0.4, 0.68, 0.07), DARK],
  ],
};

/** Rasterises layers into RGBA bytes (straight alpha). */
export function render(layers, size, samples = 4) {
  const rgba = Buffer.alloc(size * size * 4);
  for (let py = 0; py < size; py++) {
    for (let px = 0; px < size; px++) {
      let r = 0, g = 0, b = 0, a = 0;
      for (let sy = 0; sy < samples; sy++) {
        for (let sx = 0; sx < samples; sx++) {
          const x = (px + (sx + 0.5) / samples) / size;
          const y = (py + (sy + 0.5) / samples) / size;
          let colour = null;
          for (const [shape, c] of layers) if (shape(x, y)) colour = c;
          if (colour) { r += colour[0]; g += colour[1]; b += colour[2]; a += 1; }
        }
      }
      const i = (py * size + px) * 4;
      if (a) { rgba[i] = Math.round(r / a); rgba[i + 1] = Math.round(g / a); rgba[i + 2] = Math.round(b / a); }
      rgba[i + 3] = Math.round((255 * a) / (samples * samples));
    }
  }
  return rgba;
}

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});
function crc32(bytes) {
  let c = 0xffffffff;
  for (const byte of bytes) c = CRC_TABLE[(c ^ byte) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}
function chunk(type, data) {
  const length = Buffer.alloc(4); length.writeUInt32BE(data.length);
  const body = Buffer.concat([Buffer.from(type, "ascii"), data]);
  const crc = Buffer.alloc(4); crc.writeUInt32BE(crc32(body));
  return Buffer.concat([length, body, crc]);
}

/** Encodes RGBA bytes as a PNG file (8-bit RGBA, no filtering). */
export function encodePng(rgba, width, height) {
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0); header.writeUInt32BE(height, 4);
  header[8] = 8; header[9] = 6; // 8-bit, RGBA
  const raw = Buffer.alloc((width * 4 + 1) * height);
  for (let y = 0; y < height; y++) rgba.copy(raw, y * (width * 4 + 1) + 1, y * width * 4, (y + 1) * width * 4);
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk("IHDR", header), chunk("IDAT", deflateSync(raw, { level: 9 })), chunk("IEND", Buffer.alloc(0)),
  ]);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  mkdirSync(OUT, { recursive: true });
  for (const [name, layers] of Object.entries(ICONS)) {
    for (const size of SIZES) writeFileSync(join(OUT, `${name}-${size}.png`), encodePng(render(layers, size), size, size));
  }
  console.log(`wrote ${Object.keys(ICONS).length * SIZES.length} icons to ${OUT}`);
}
