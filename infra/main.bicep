// gallery-publisher in Azure, step 1 of 2: a container Function App on Elastic Premium, its own
// storage for the Functions host and Durable Functions (reached with its identity, no keys),
// Application Insights, and the roles of its system-assigned identity. The images storage account
// and the galleries already exist and are only referenced, never redeclared.
//
// Step 2, once the app runs (its start_from_blob function must exist in ARM): infra/events.bicep,
// the Event Grid subscription. The README gives both commands.

@description('Region of every resource.')
param location string = resourceGroup().location

@description('Name of the Function App (also the prefix of the other resources).')
param appName string = 'gallery-publisher'

@description('The app container image (built from the repository Dockerfile).')
param containerImage string

@description('The existing storage account holding the VHD containers, in this resource group.')
param storageAccountName string = 'almalinux'

@description('Azure Container Registry (in this resource group) holding containerImage: the app pulls with its identity (AcrPull). Empty: pull from registryServer with the credentials below.')
param acrName string = ''
@description('Registry of containerImage when acrName is empty (a new GHCR package is private).')
param registryServer string = 'ghcr.io'
param registryUsername string = ''
@description('A token that can read the package (GHCR: a PAT with read:packages).')
@secure()
param registryPassword string = ''

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
param allowedSourcePorts string = '443'
param blobTriggerDryRun bool = true
param blobTriggerPublic bool = false
param versionDeadlineMinutes int = 180
param pollSeconds int = 60
param stagingDeadlineMinutes int = 240
param maxRegions int = 10
param maxTotalReplicas int = 30
param cleanupAfterHours int = 72
param cleanupDelete bool = false
param uploadSettleSeconds int = 120
@description('E-mail address the monitoring alert (failed job, version past its deadline) goes to.')
param alertEmail string = ''
@secure()
@description('Webhook the monitoring alert is posted to (common alert schema).')
param alertWebhookUrl string = ''
@allowed(['native', 'qemu-img'])
param converter string = 'native'

// Built-in role definition ids (https://learn.microsoft.com/azure/role-based-access-control/built-in-roles).
var roles = {
  storageBlobDataOwner: 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b'
  storageBlobDataContributor: 'ba92f5b4-2d11-453d-a403-e96b0029c9fe'
  storageQueueDataContributor: '974c5e8b-45b9-4653-ba55-5f855dd0fb88'
  storageTableDataContributor: '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3'
  storageAccountContributor: '17d1049b-9a84-46fb-8f53-869881c3d3ab'
  acrPull: '7f951dca-d33a-4ae6-b3d3-26c2b6b2d38c'
}

// Referenced, never redeclared: a declaration would reset its SKU, kind, location and access.
resource images 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: storageAccountName
}

var useAcr = !empty(acrName)

resource registry 'Microsoft.ContainerRegistry/registries@2023-07-01' existing = if (useAcr) {
  name: acrName
}

resource imagesBlob 'Microsoft.Storage/storageAccounts/blobServices@2023-05-01' existing = {
  parent: images
  name: 'default'
}

// Signed source URLs of running jobs, kept out of Durable state (gallery_publisher/jobs/source_stash.py).
resource jobSources 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = {
  parent: imagesBlob
  name: 'job-sources'
  properties: { publicAccess: 'None' }
}

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
      acrUseManagedIdentityCreds: useAcr
      minTlsVersion: '1.2'
      ftpsState: 'Disabled'
      appSettings: concat(useAcr ? [] : [
        { name: 'DOCKER_REGISTRY_SERVER_URL', value: 'https://${registryServer}' }
        { name: 'DOCKER_REGISTRY_SERVER_USERNAME', value: registryUsername }
        { name: 'DOCKER_REGISTRY_SERVER_PASSWORD', value: registryPassword }
      ], [
        { name: 'FUNCTIONS_EXTENSION_VERSION', value: '~4' }
        { name: 'FUNCTIONS_WORKER_RUNTIME', value: 'python' }
        { name: 'WEBSITES_ENABLE_APP_SERVICE_STORAGE', value: 'false' }
        // Identity-based host storage: the host, its timers and Durable Functions use these roles.
        { name: 'AzureWebJobsStorage__accountName', value: hostStorage.name }
        { name: 'APPLICATIONINSIGHTS_CONNECTION_STRING', value: insights.properties.ConnectionString }
        // Our log records' attributes → customDimensions (gallery_publisher/telemetry.py); the SDKs'
        // HTTP instrumentations stay off, as their URLs would carry SAS tokens and signatures.
        { name: 'PYTHON_APPLICATIONINSIGHTS_ENABLE_TELEMETRY', value: 'true' }
        { name: 'PYTHON_APPLICATIONINSIGHTS_LOGGER_NAME', value: 'gallery_publisher' }
        { name: 'OTEL_PYTHON_DISABLED_INSTRUMENTATIONS', value: 'azure_sdk,django,fastapi,flask,httpx,httpx2,psycopg2,requests,urllib,urllib3' }
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
        { name: 'GALLERY_PUBLISHER_ALLOWED_SOURCE_PORTS', value: allowedSourcePorts }
        { name: 'GALLERY_PUBLISHER_BLOB_TRIGGER_DRY_RUN', value: string(blobTriggerDryRun) }
        { name: 'GALLERY_PUBLISHER_BLOB_TRIGGER_PUBLIC', value: string(blobTriggerPublic) }
        { name: 'GALLERY_PUBLISHER_VERSION_DEADLINE_MINUTES', value: string(versionDeadlineMinutes) }
        { name: 'GALLERY_PUBLISHER_POLL_SECONDS', value: string(pollSeconds) }
        { name: 'GALLERY_PUBLISHER_STAGING_DEADLINE_MINUTES', value: string(stagingDeadlineMinutes) }
        { name: 'GALLERY_PUBLISHER_MAX_REGIONS', value: string(maxRegions) }
        { name: 'GALLERY_PUBLISHER_MAX_TOTAL_REPLICAS', value: string(maxTotalReplicas) }
        { name: 'GALLERY_PUBLISHER_CLEANUP_AFTER_HOURS', value: string(cleanupAfterHours) }
        { name: 'GALLERY_PUBLISHER_CLEANUP_DELETE', value: string(cleanupDelete) }
        { name: 'GALLERY_PUBLISHER_UPLOAD_SETTLE_SECONDS', value: string(uploadSettleSeconds) }
        { name: 'GALLERY_PUBLISHER_CONVERTER', value: converter }
      ])
    }
  }
}

// The app's identity, on the host storage account: Blob Data Owner (the host's leases and keys),
// Queue and Table Data Contributor (the Durable Functions task hub: work items, history, instances).
var hostRoles = [roles.storageBlobDataOwner, roles.storageQueueDataContributor, roles.storageTableDataContributor]

resource hostStorageRoles 'Microsoft.Authorization/roleAssignments@2022-04-01' = [for role in hostRoles: {
  name: guid(hostStorage.id, app.id, role)
  scope: hostStorage
  properties: {
    principalId: app.identity.principalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', role)
  }
}]

// On the images account: Blob Data Contributor to stage and read VHD blobs; Storage Account
// Contributor because creating a gallery version from a VHD needs listKeys/action and write on the
// account holding it (the README says why).
var imagesRoles = [roles.storageBlobDataContributor, roles.storageAccountContributor]

resource imagesAccountRoles 'Microsoft.Authorization/roleAssignments@2022-04-01' = [for role in imagesRoles: {
  name: guid(images.id, app.id, role)
  scope: images
  properties: {
    principalId: app.identity.principalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', role)
  }
}]

resource registryPull 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (useAcr) {
  name: guid(registry.id, app.id, roles.acrPull)
  scope: registry
  properties: {
    principalId: app.identity.principalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.acrPull)
  }
}

// Compute Gallery Artifacts Publisher on each gallery (create, read and delete image versions).
module galleryRole 'gallery-role.bicep' = {
  name: 'gallery-publisher-gallery-role'
  scope: resourceGroup(galleryResourceGroup)
  params: { principalId: app.identity.principalId, galleryNames: [ciGallery, publicGallery] }
}

// Further modules (monitoring) go here, each taking what it needs from the resources above.
// The "Gallery publishing" workbook and the alert rule with its action group.
module monitoring 'monitoring.bicep' = {
  name: 'gallery-publisher-monitoring'
  params: {
    location: location
    appName: appName
    applicationInsightsId: insights.id
    alertEmail: alertEmail
    alertWebhookUrl: alertWebhookUrl
  }
}

output functionUrl string = 'https://${app.properties.defaultHostName}'
output principalId string = app.identity.principalId
