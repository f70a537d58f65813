import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { InvalidInputError } from '#functions/errors.ts';
import { deriveJobId, parseJob, validateJob } from '#functions/job.ts';
import { manifestKey, outputKey } from '#functions/output-keys.ts';

const URL_OK = 'https://images.test/seed/42/1024/768';

function withOutputs(outputs: unknown, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { id: '42', url: URL_OK, outputs, ...extra };
}

const w640 = { name: 'w640', width: 640, format: 'webp' };

function refusedNaming(field: string, message?: RegExp) {
  return (error: unknown) => {
    assert.ok(error instanceof InvalidInputError, `expected InvalidInputError, got ${String(error)}`);
    assert.equal(error.field, field);
    assert.ok(error.message.startsWith(`${field}: `), error.message);
    if (message) assert.match(error.message, message);
    return true;
  };
}

describe('job outputs: what is accepted', () => {
  it('completes each output with its defaults', () => {
    const job = parseJob(withOutputs([w640, { name: 'sq', width: 400, height: 400, fit: 'cover', format: 'jpeg' }]));

    assert.deepEqual(job, {
      id: '42',
      url: URL_OK,
      outputs: [
        { name: 'w640', width: 640, fit: 'inside', format: 'webp', quality: 80, strip: true, withoutEnlargement: true, animated: false },
        {
          name: 'sq',
          width: 400,
          height: 400,
          fit: 'cover',
          position: 'centre',
          format: 'jpeg',
          quality: 82,
          strip: true,
          withoutEnlargement: true,
          animated: false,
        },
      ],
    });
    assert.ok(Object.isFrozen(job.outputs));
  });

  it('takes every option the schema documents', () => {
    const output = {
      name: 'box',
      height: 300,
      fit: 'contain',
      background: '#ffffff00',
      format: 'png',
      quality: 70,
      strip: false,
      withoutEnlargement: false,
      animated: false,
    };

    assert.deepEqual(parseJob(withOutputs([output])).outputs, [output]);
    assert.equal(parseJob(withOutputs([{ name: 'a', width: 64, format: 'webp', animated: true }])).outputs?.[0]?.animated, true);
    assert.equal(parseJob(withOutputs([{ name: 'c', width: 9, height: 9, fit: 'cover', position: 'attention', format: 'avif' }])).outputs?.[0]?.position, 'attention');
  });

  it('derives one id for one set, whether defaults are written out or not, and another for another set', () => {
    const implicit = parseJob({ url: URL_OK, outputs: [w640] });
    const explicit = parseJob({ url: URL_OK, outputs: [{ ...w640, fit: 'inside', quality: 80, strip: true }] });
    const other = parseJob({ url: URL_OK, outputs: [{ ...w640, width: 641 }] });

    assert.equal(implicit.id, explicit.id);
    assert.notEqual(implicit.id, other.id);
    assert.notEqual(implicit.id, deriveJobId(URL_OK, ['thumbnail']));
  });

  it('decodes a published job back to itself: the message carries the completed outputs', () => {
    const job = validateJob({ url: URL_OK, outputs: [w640, { name: 'box', width: 10, height: 10, fit: 'contain', format: 'png' }] });

    assert.deepEqual(parseJob(JSON.parse(JSON.stringify(job))), job);
  });

  it('keys each output as <id>/<name>.<ext> and the manifest as <id>/manifest.json', () => {
    assert.equal(outputKey('42', { name: 'w640', format: 'webp' }), '42/w640.webp');
    assert.equal(outputKey('42', { name: 'sq', format: 'jpeg' }), '42/sq.jpg');
    assert.equal(manifestKey('42'), '42/manifest.json');
  });

  it('leaves a thumbnail job exactly as it was', () => {
    assert.deepEqual(parseJob({ id: '42', url: URL_OK, ops: ['thumbnail'] }), { id: '42', url: URL_OK, ops: ['thumbnail'] });
  });
});

describe('job outputs: what is refused, naming the field', () => {
  const refused: Array<[string, unknown, string, RegExp?]> = [
    ['no outputs', [], 'outputs'],
    ['nine outputs', Array.from({ length: 9 }, (_, index) => ({ ...w640, name: `o${index}` })), 'outputs'],
    ['a missing name', [{ width: 640, format: 'webp' }], 'outputs[0].name', /is required/],
    ['a name with a dot', [{ ...w640, name: 'a.b' }], 'outputs[0].name'],
    ['a name with a slash', [{ ...w640, name: '../x' }], 'outputs[0].name'],
    ['two outputs of one name', [w640, { ...w640, format: 'jpeg' }], 'outputs[1].name', /already/],
    ['neither width nor height', [{ name: 'x', format: 'webp' }], 'outputs[0]', /width, a height/],
    ['a side over 8192', [{ ...w640, width: 8193 }], 'outputs[0].width', /at most 8192/],
    ['a side of 0', [{ ...w640, height: 0 }], 'outputs[0].height', /at least 1/],
    ['a fractional side', [{ ...w640, width: 640.5 }], 'outputs[0].width'],
    ['a side as a string', [{ ...w640, width: '640' }], 'outputs[0].width'],
    ['an unknown format', [{ ...w640, format: 'gif' }], 'outputs[0].format', /"jpeg", "webp", "avif", "png"/],
    ['an unknown fit', [{ ...w640, fit: 'fill' }], 'outputs[0].fit'],
    ['a quality over the range of its format', [w640, w640, { ...w640, name: 'q', quality: 101 }], 'outputs[2].quality', /at most 100/],
    ['a quality of 0', [{ ...w640, format: 'avif', quality: 0 }], 'outputs[0].quality', /at least 1/],
    ['a position without cover', [{ ...w640, position: 'north' }], 'outputs[0].position', /fit "cover"/],
    ['an unknown position', [{ ...w640, height: 9, fit: 'cover', position: 'middle' }], 'outputs[0].position'],
    ['a background without contain', [{ ...w640, background: '#fff' }], 'outputs[0].background', /fit "contain"/],
    ['a background that is not a colour', [{ ...w640, fit: 'contain', background: 'red' }], 'outputs[0].background', /#rrggbb/],
    ['animated outside WebP', [{ ...w640, format: 'jpeg', animated: true }], 'outputs[0].animated', /"webp"/],
    ['a smart crop of an animation', [{ ...w640, height: 9, fit: 'cover', position: 'entropy', animated: true }], 'outputs[0].position'],
    ['strip as a string', [{ ...w640, strip: 'no' }], 'outputs[0].strip'],
    ['an unknown output field', [{ ...w640, sharpen: true }], 'outputs[0].sharpen', /not a known field/],
    ['outputs that are not a list', { w640 }, 'outputs'],
  ];
  for (const [what, outputs, field, message] of refused) {
    it(`refuses ${what}: ${field}`, () => {
      assert.throws(() => parseJob(withOutputs(outputs)), refusedNaming(field, message));
      assert.throws(() => validateJob(withOutputs(outputs)), refusedNaming(field, message));
    });
  }

  it('refuses ops and outputs together', () => {
    assert.throws(() => parseJob(withOutputs([w640], { ops: ['thumbnail'] })), refusedNaming('ops', /together with outputs/));
  });

  it('ignores top-level fields it does not know in a message, and refuses them in a request', () => {
    assert.equal(parseJob(withOutputs([w640], { priority: 'high' })).id, '42');
    assert.throws(() => validateJob(withOutputs([w640], { priority: 'high' })), refusedNaming('priority', /not a known field/));
  });
});
