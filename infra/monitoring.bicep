// Monitoring of the publisher, out of the box: the "Gallery publishing" workbook on Application
// Insights, and an alert for a failed job or a gallery version past its deadline, sent to an action
// group (e-mail and/or webhook). Both read the structured telemetry of gallery_publisher/telemetry.py
// (customDimensions of traces); a test holds their queries to the dimensions the code emits.

@description('Region of the workbook and the alert rule.')
param location string

@description('Prefix of the resource names.')
param appName string

@description('Resource id of the Application Insights component the app logs to.')
param applicationInsightsId string

@description('E-mail address the alert is sent to (empty: no e-mail).')
param alertEmail string = ''

@secure()
@description('Webhook URL the alert is posted to, in the common alert schema (empty: no webhook).')
param alertWebhookUrl string = ''

resource workbook 'Microsoft.Insights/workbooks@2023-06-01' = {
  name: guid(resourceGroup().id, appName, 'gallery-publishing-workbook')
  location: location
  kind: 'shared'
  properties: {
    displayName: 'Gallery publishing'
    category: 'workbook'
    sourceId: applicationInsightsId
    serializedData: replace(loadTextContent('monitoring-workbook.json'), '__APPLICATION_INSIGHTS_ID__', applicationInsightsId)
  }
}

resource releaseEngineers 'Microsoft.Insights/actionGroups@2023-01-01' = {
  name: '${appName}-alerts'
  location: 'global'
  properties: {
    groupShortName: 'galpublish'
    enabled: true
    emailReceivers: empty(alertEmail) ? [] : [
      { name: 'release-engineers', emailAddress: alertEmail, useCommonAlertSchema: true }
    ]
    webhookReceivers: empty(alertWebhookUrl) ? [] : [
      { name: 'webhook', serviceUri: alertWebhookUrl, useCommonAlertSchema: true }
    ]
  }
}

// Every 5 minutes over the last 5: one alert per job and reason (split by these dimensions).
resource jobFailed 'Microsoft.Insights/scheduledQueryRules@2023-03-15-preview' = {
  name: '${appName}-job-failed'
  location: location
  properties: {
    displayName: 'Gallery publishing: a job failed or a version is past its deadline'
    description: 'A publishing job failed (at plan, stage, validate or publish), or a gallery version was not done within GALLERY_PUBLISHER_VERSION_DEADLINE_MINUTES. Open the Gallery publishing workbook for the Azure error.'
    severity: 1
    enabled: true
    scopes: [applicationInsightsId]
    evaluationFrequency: 'PT5M'
    windowSize: 'PT5M'
    autoMitigate: false
    criteria: {
      allOf: [
        {
          query: loadTextContent('monitoring-alert.kql')
          timeAggregation: 'Total'
          metricMeasureColumn: 'count_'
          operator: 'GreaterThan'
          threshold: 0
          dimensions: [
            { name: 'instance_id', operator: 'Include', values: ['*'] }
            { name: 'image', operator: 'Include', values: ['*'] }
            { name: 'reason', operator: 'Include', values: ['*'] }
            { name: 'error_code', operator: 'Include', values: ['*'] }
          ]
          failingPeriods: { numberOfEvaluationPeriods: 1, minFailingPeriodsToAlert: 1 }
        }
      ]
    }
    actions: {
      actionGroups: [releaseEngineers.id]
    }
  }
}

output workbookId string = workbook.id
