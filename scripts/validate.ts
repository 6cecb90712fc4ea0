/**
 * `npm run validate`: cfn-lint on template.yaml, then every state machine the template declares, with its
 * DefinitionSubstitutions resolved, through asl-validator. Also refuses state machine files the template does not use
 * (a second copy that would drift), and committed ones that differ from their TypeScript sources (`npm run workflows`);
 * checks aws-sdk task actions and parameter names as Step Functions does at deploy, and that every IAM action the
 * execution roles name exists (AWS's Service Authorization Reference)
 * and validates the OpenAPI document (functions/openapi) with swagger-parser.
 * Exits non-zero on any problem — including a missing cfn-lint.
 */
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { loadStackModel } from '../local/model.ts';
import { loadTemplate } from '../local/template.ts';
import { buildExecutionRoles, checkActionsExist } from '../local/iam/index.ts';
import { checkTaskDefinitions } from '../local/stepfunctions/definition-check.ts';
import SwaggerParser from '@apidevtools/swagger-parser';
import { openApiDocument } from '../functions/openapi/document.ts';
import { staleWorkflows } from './workflows.ts';

const aslValidator = require('asl-validator') as (definition: unknown) => { isValid: boolean; errorsText: (sep?: string) => string };

const root = resolve(__dirname, '..');
const templatePath = join(root, 'template.yaml');
let failed = false;
const fail = (message: string) => {
  failed = true;
  console.error(`✗ ${message}`);
};

// 1. cfn-lint on template.yaml itself, as `sam validate --lint` and CloudFormation read it (one template for every
//    DataApiAuth mode: no condition decides an authorizer).
const version = spawnSync('cfn-lint', ['--version'], { encoding: 'utf8' });
if (version.error || version.status !== 0) {
  fail('cfn-lint is not installed on this machine, so template.yaml was NOT linted. Install it (pip install cfn-lint) and run again.');
} else {
  const lint = spawnSync('cfn-lint', ['--', templatePath], { encoding: 'utf8' });
  if (lint.status === 0) console.log(`✓ cfn-lint (${version.stdout.trim()}): template.yaml`);
  else fail(`cfn-lint reports problems in template.yaml:\n${lint.stdout}${lint.stderr}`);
}

// 2. ASL of every state machine, as deployed (substitutions resolved), under every condition combination we ship.
const model = loadStackModel({ templatePath, stackName: 'tollgate', region: 'us-east-1', accountId: '123456789012' });
for (const machine of model.stateMachines) {
  const result = aslValidator(machine.definition);
  if (result.isValid) console.log(`✓ ASL: ${machine.logicalId} (${Object.keys((machine.definition.States as object) ?? {}).length} states)`);
  else fail(`ASL of ${machine.logicalId} is invalid:\n  ${result.errorsText('\n  ')}`);
}

// 3. No state machine file the template does not reference.
const template = loadTemplate(templatePath);
const referenced = new Set(
  Object.values(template.Resources)
    .map((r) => r.Properties?.DefinitionUri)
    .filter((u): u is string => typeof u === 'string')
    .map((u) => resolve(root, u)),
);
for (const file of readdirSync(join(root, 'statemachines')).filter((f) => f.endsWith('.asl.json'))) {
  const full = join(root, 'statemachines', file);
  if (!referenced.has(full)) fail(`${relative(root, full)} is not referenced by template.yaml (a copy that would drift)`);
}

// 4. Every committed state machine file is what its TypeScript source writes.
const stale = staleWorkflows();
for (const file of stale) fail(`${file} differs from its source ${file.replace(/\.asl\.json$/, '.ts')} (run npm run workflows)`);
if (stale.length === 0) console.log('✓ state machine files match their sources (statemachines/*.ts)');

// 6. The API reference is a valid OpenAPI document.
async function validateOpenApi(): Promise<void> {
  const document = openApiDocument();
  try {
    await SwaggerParser.validate(document as never);
    console.log(`✓ OpenAPI: ${Object.keys(document.paths as object).length} paths (functions/openapi)`);
  } catch (error) {
    fail(`the OpenAPI document is invalid: ${error instanceof Error ? error.message : String(error)}`);
  }
}

// 5. As AWS checks at deploy: aws-sdk task actions and parameter names (Step Functions), and every IAM action the
// execution roles name (AWS's Service Authorization Reference).
for (const machine of model.stateMachines) {
  try {
    checkTaskDefinitions(machine.definition, machine.logicalId);
    console.log(`✓ task actions and parameters: ${machine.logicalId}`);
  } catch (error) {
    fail((error as Error).message);
  }
}

async function finish(): Promise<void> {
  try {
    const roles = buildExecutionRoles(template, model.context, model.stackName);
    await checkActionsExist(roles.values());
    console.log(`✓ IAM actions exist: ${roles.size} execution roles`);
  } catch (error) {
    fail((error as Error).message);
  }
  await validateOpenApi();
  if (failed) process.exit(1);
  console.log('✓ validate: all checks passed');
}
void finish();
