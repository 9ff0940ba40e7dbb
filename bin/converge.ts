#!/usr/bin/env node
/**
 * The CDK app: the reference Converge stack, checked by cdk-nag AwsSolutions at synth.
 * Deploy with `npx cdk deploy --all`; `npm start` deploys the same assembly to the local cloud.
 */
import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { ConvergeStack } from '../lib/converge-stack.js';

const app = new App();
new ConvergeStack(app, 'Converge', {
  description: 'Converge: eventual-consistency data sync (stream sync, compensation sagas, reconciliation)',
  env: process.env.CDK_DEFAULT_ACCOUNT ? { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION } : undefined,
});
Validations.of(app).addPlugins(new AwsSolutionsChecks(app, { verbose: true }));
app.synth();
