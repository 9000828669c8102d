// Contributor on the galleries' resource group for the Function App's identity.
param principalId string

var contributor = 'b24988ac-6180-42a0-ab88-20f7382dd24c'

resource galleryContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(resourceGroup().id, principalId, contributor)
  properties: {
    principalId: principalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', contributor)
  }
}
