// gallery-publisher in Azure: a container Function App on Elastic Premium, the storage account with
// the VHD containers, an Event Grid subscription that starts a job when a .vhd lands, Application
// Insights, and a system-assigned identity with the two roles the app needs.
//
// Deploy into the resource group that holds (or will hold) the storage account:
//   az deployment group create -g rg-alma-images -f infra/main.bicep \
//     -p containerImage=ghcr.io/OWNER/gallery-publisher:TAG mattermostWebhookUrl=...

@description('Region of every resource.')
param location string = resourceGroup().location

@description('Name of the Function App (also the prefix of the other resources).')
param appName string = 'gallery-publisher'

@description('The app container image (built from the repository Dockerfile).')
param containerImage string

@description('Storage account holding the VHD containers (created when missing).')
param storageAccountName string = 'almalinux'

@description('Resource group of the Compute Galleries.')
param galleryResourceGroup string = resourceGroup().name

param ciGallery string = 'almalinux_ci'
param publicGallery string = 'almalinux'
param targetRegions string = 'eastus=1,germanywestcentral=1,westus2=1,southeastasia=1,southcentralus=1'
@allowed(['Standard_LRS', 'Standard_ZRS', 'Premium_LRS'])
param storageAccountType string = 'Standard_LRS'
param neverPublic string = 'kitten-*,10-*,9-arm64-64k'
param endOfLifeDate string = ''
param excludeFromLatest bool = false
@allowed(['Full', 'Shallow'])
param replicationMode string = 'Full'
@secure()
param mattermostWebhookUrl string = ''
param mattermostChannel string = ''
param mattermostUsername string = 'gallery-publisher'
param allowedSourceHosts string = '*.s3.amazonaws.com,*.s3.*.amazonaws.com,*.s3-accelerate.amazonaws.com,*.s3-accelerate.dualstack.amazonaws.com'
param blobTriggerDryRun bool = true
param blobTriggerPublic bool = false
param versionDeadlineMinutes int = 180
param pollSeconds int = 60
@allowed(['native', 'qemu-img'])
param converter string = 'native'

// The containers of the family table (gallery_publisher/families.py).
var vhdContainers = ['8-default', '8-arm64', '9-default', '9-arm64', '9-arm64-64k', 'almalinux-10', 'kitten-10']

resource images 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  name: storageAccountName
  location: location
  sku: { name: 'Standard_LRS' }
  kind: 'StorageV2'
  properties: {
    minimumTlsVersion: 'TLS1_2'
    allowBlobPublicAccess: false
  }
}

resource imagesBlob 'Microsoft.Storage/storageAccounts/blobServices@2023-05-01' = {
  parent: images
  name: 'default'
}

resource containers 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = [for name in vhdContainers: {
  parent: imagesBlob
  name: name
}]

// The Functions runtime's own storage (Durable Functions task hub), apart from the images.
resource hostStorage 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  name: take('${replace(appName, '-', '')}host${uniqueString(resourceGroup().id)}', 24)
  location: location
  sku: { name: 'Standard_LRS' }
  kind: 'StorageV2'
  properties: {
    minimumTlsVersion: 'TLS1_2'
    allowBlobPublicAccess: false
  }
}

resource logs 'Microsoft.OperationalInsights/workspaces@2023-09-01' = {
  name: '${appName}-logs'
  location: location
  properties: { sku: { name: 'PerGB2018' }, retentionInDays: 30 }
}

resource insights 'Microsoft.Insights/components@2020-02-02' = {
  name: '${appName}-insights'
  location: location
  kind: 'web'
  properties: { Application_Type: 'web', WorkspaceResourceId: logs.id }
}

resource plan 'Microsoft.Web/serverfarms@2023-12-01' = {
  name: '${appName}-plan'
  location: location
  sku: { name: 'EP1', tier: 'ElasticPremium' }
  kind: 'elastic'
  properties: { reserved: true, maximumElasticWorkerCount: 4 }
}

resource app 'Microsoft.Web/sites@2023-12-01' = {
  name: appName
  location: location
  kind: 'functionapp,linux,container'
  identity: { type: 'SystemAssigned' }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    siteConfig: {
      linuxFxVersion: 'DOCKER|${containerImage}'
      minTlsVersion: '1.2'
      ftpsState: 'Disabled'
      appSettings: [
        { name: 'FUNCTIONS_EXTENSION_VERSION', value: '~4' }
        { name: 'FUNCTIONS_WORKER_RUNTIME', value: 'python' }
        { name: 'WEBSITES_ENABLE_APP_SERVICE_STORAGE', value: 'false' }
        { name: 'AzureWebJobsStorage', value: 'DefaultEndpointsProtocol=https;AccountName=${hostStorage.name};AccountKey=${hostStorage.listKeys().keys[0].value};EndpointSuffix=${environment().suffixes.storage}' }
        { name: 'APPLICATIONINSIGHTS_CONNECTION_STRING', value: insights.properties.ConnectionString }
        { name: 'AZURE_SUBSCRIPTION_ID', value: subscription().subscriptionId }
        { name: 'GALLERY_PUBLISHER_CI_GALLERY', value: ciGallery }
        { name: 'GALLERY_PUBLISHER_PUBLIC_GALLERY', value: publicGallery }
        { name: 'GALLERY_PUBLISHER_RESOURCE_GROUP', value: galleryResourceGroup }
        { name: 'GALLERY_PUBLISHER_STORAGE_ACCOUNT', value: images.name }
        { name: 'GALLERY_PUBLISHER_STORAGE_ACCOUNT_ID', value: images.id }
        { name: 'GALLERY_PUBLISHER_BLOB_ENDPOINT', value: images.properties.primaryEndpoints.blob }
        { name: 'GALLERY_PUBLISHER_ARM_ENDPOINT', value: environment().resourceManager }
        { name: 'GALLERY_PUBLISHER_TARGET_REGIONS', value: targetRegions }
        { name: 'GALLERY_PUBLISHER_STORAGE_ACCOUNT_TYPE', value: storageAccountType }
        { name: 'GALLERY_PUBLISHER_NEVER_PUBLIC', value: neverPublic }
        { name: 'GALLERY_PUBLISHER_END_OF_LIFE_DATE', value: endOfLifeDate }
        { name: 'GALLERY_PUBLISHER_EXCLUDE_FROM_LATEST', value: string(excludeFromLatest) }
        { name: 'GALLERY_PUBLISHER_REPLICATION_MODE', value: replicationMode }
        { name: 'GALLERY_PUBLISHER_MATTERMOST_WEBHOOK_URL', value: mattermostWebhookUrl }
        { name: 'GALLERY_PUBLISHER_MATTERMOST_CHANNEL', value: mattermostChannel }
        { name: 'GALLERY_PUBLISHER_MATTERMOST_USERNAME', value: mattermostUsername }
        { name: 'GALLERY_PUBLISHER_ALLOWED_SOURCE_HOSTS', value: allowedSourceHosts }
        { name: 'GALLERY_PUBLISHER_BLOB_TRIGGER_DRY_RUN', value: string(blobTriggerDryRun) }
        { name: 'GALLERY_PUBLISHER_BLOB_TRIGGER_PUBLIC', value: string(blobTriggerPublic) }
        { name: 'GALLERY_PUBLISHER_VERSION_DEADLINE_MINUTES', value: string(versionDeadlineMinutes) }
        { name: 'GALLERY_PUBLISHER_POLL_SECONDS', value: string(pollSeconds) }
        { name: 'GALLERY_PUBLISHER_CONVERTER', value: converter }
      ]
    }
  }
}

// Storage Blob Data Contributor on the images account: stage and read VHD blobs.
resource blobContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(images.id, app.id, 'ba92f5b4-2d11-453d-a403-e96b0029c9fe')
  scope: images
  properties: {
    principalId: app.identity.principalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', 'ba92f5b4-2d11-453d-a403-e96b0029c9fe')
  }
}

// Contributor on the galleries' resource group: create, read and delete image versions.
module galleryRole 'gallery-role.bicep' = {
  name: 'gallery-publisher-gallery-role'
  scope: resourceGroup(galleryResourceGroup)
  params: { principalId: app.identity.principalId }
}

// BlobCreated for .vhd blobs in the VHD containers → the app's Event Grid starter.
resource topic 'Microsoft.EventGrid/systemTopics@2023-12-15-preview' = {
  name: '${storageAccountName}-events'
  location: location
  properties: { source: images.id, topicType: 'Microsoft.Storage.StorageAccounts' }
}

resource vhdLanded 'Microsoft.EventGrid/systemTopics/eventSubscriptions@2023-12-15-preview' = {
  parent: topic
  name: 'vhd-landed'
  properties: {
    destination: {
      endpointType: 'AzureFunction'
      properties: { resourceId: '${app.id}/functions/start_from_blob' }
    }
    filter: {
      includedEventTypes: ['Microsoft.Storage.BlobCreated']
      subjectEndsWith: '.vhd'
      advancedFilters: [
        {
          operatorType: 'StringBeginsWith'
          key: 'subject'
          values: [for name in vhdContainers: '/blobServices/default/containers/${name}/']
        }
      ]
    }
  }
}

output functionUrl string = 'https://${app.properties.defaultHostName}'
output principalId string = app.identity.principalId
