import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import sharp from 'sharp';
import { sniffImageType } from '#adapters/fetch/sniff-image-type.ts';
import { htmlBytes } from '#test/support/image-factory.ts';

const ascii = (text: string) => [...text].map((char) => char.charCodeAt(0));

/** An ISO-BMFF `ftyp` box: size, `ftyp`, major brand, minor version, compatible brands. */
function ftypBox(major: string, compatible: string[]): Uint8Array {
  const size = 16 + 4 * compatible.length;
  return new Uint8Array([0, 0, 0, size, ...ascii('ftyp'), ...ascii(major), 0, 0, 0, 0, ...compatible.flatMap(ascii), 0, 0, 0, 8]);
}

describe('sniffImageType', () => {
  const tiny = () => sharp({ create: { width: 4, height: 4, channels: 3, background: { r: 9, g: 8, b: 7 } } });

  it('recognises the formats sharp writes by their first bytes', async () => {
    assert.equal(sniffImageType(await tiny().jpeg().toBuffer()), 'image/jpeg');
    assert.equal(sniffImageType(await tiny().png().toBuffer()), 'image/png');
    assert.equal(sniffImageType(await tiny().gif().toBuffer()), 'image/gif');
    assert.equal(sniffImageType(await tiny().webp().toBuffer()), 'image/webp');
    assert.equal(sniffImageType(await tiny().tiff().toBuffer()), 'image/tiff');
    assert.equal(sniffImageType(await tiny().avif().toBuffer()), 'image/avif');
  });

  it('reads AVIF and HEIF brands from the ftyp box, compatible brands included', () => {
    assert.equal(sniffImageType(ftypBox('mif1', ['avif', 'miaf'])), 'image/avif');
    assert.equal(sniffImageType(ftypBox('heic', ['mif1'])), 'image/heic');
    assert.equal(sniffImageType(ftypBox('mif1', ['miaf'])), 'image/heif');
    assert.equal(sniffImageType(ftypBox('isom', ['mp41'])), undefined);
  });

  it('refuses what is not an image, however short', () => {
    assert.equal(sniffImageType(htmlBytes()), undefined);
    assert.equal(sniffImageType(new Uint8Array([0xff, 0xd8])), undefined);
    assert.equal(sniffImageType(new Uint8Array(0)), undefined);
    assert.equal(sniffImageType(new Uint8Array(ascii('RIFF\0\0\0\0WAVE'))), undefined);
  });
});
